"""What every worker shares: a faust app per stage, decoding with dead letters, retries, metrics, health.

A stage's agent is a thin adapter. It decodes and validates the input, calls the stage's handler,
and counts. Bad input never stops a worker: a message that fails its schema or its processing goes
to the dead-letter topic with the reason, and the worker carries on. A *transient* failure (Redis
or Kafka unreachable) is different: the message is retried until it goes through, because sending
it to the dead-letter topic would lose good data to a passing outage.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust
from aiokafka.errors import KafkaError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import dead_letters, heap
from .cancellation import raise_if_cancel_lost
from .codec import DecodeError, encode
from .config import Settings
from .kafka_security import faust_broker_credentials
from .logs import logging_config
from .metrics import (
    CONSUMER_LAG,
    DEAD_LETTERS,
    MESSAGES_CONSUMED,
    MESSAGES_PRODUCED,
    PROCESSING_SECONDS,
    RETRIES,
    WORKER_UP,
    publish_build_info,
)
from .redis_store import (
    OUTCOME_DEAD_LETTER,
    Keys,
    connect_async,
    outcome_value,
    record_outcome,
    record_outcomes,
)
from .schemas import SchemaError
from .topics import ALL_TOPICS, TopicSpec, consumer_group, topic_name
from .topics import DEAD_LETTERS as DEAD_LETTER_TOPIC

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError, RedisTimeoutError, KafkaError, ConnectionError, asyncio.TimeoutError,
)
_MAX_BACKOFF_SECONDS = 30.0


class ProcessingError(Exception):
    """The content cannot be processed; the message goes to the dead-letter topic with this reason."""

    error_class = dead_letters.PROCESSING


@dataclass(frozen=True)
class Delivery:
    """Where the message being handled came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


Handler = Callable[[dict[str, Any], Delivery], Awaitable[None]]
BatchHandler = Callable[[list[tuple[dict[str, Any], Delivery]]], Awaitable[None]]


class Stage:
    """One pipeline stage: a faust app with its own consumer group."""

    def __init__(self, name: str, settings: Settings | None = None) -> None:
        self.name = name
        self.settings = settings or Settings.from_env()
        if not self.settings.kafka_bootstrap_servers or not self.settings.redis_url:
            raise RuntimeError(
                f"the {name} worker needs KAFKA_BOOTSTRAP_SERVERS and REDIS_URL "
                "(`marsad run` and `marsad replay` set them for the embedded broker and Redis)")
        self.keys = Keys(self.settings.redis_prefix)
        self.redis = connect_async(self.settings.redis_url, stage=name, settings=self.settings)
        self._outcome_ttl = int(self.settings.outcome_ttl_days * 86400)
        self._positions: dict[tuple[str, int], int] = {}
        brokers = [f"kafka://{host.strip()}" for host in self.settings.kafka_bootstrap_servers.split(",")]
        self.group_id = consumer_group(self.settings.topic_prefix, name)
        self._our_topics = {topic_name(self.settings.topic_prefix, spec) for spec in ALL_TOPICS}
        self.app = faust.App(
            self.group_id,
            broker=brokers,
            broker_credentials=faust_broker_credentials(self.settings),
            store="memory://",  # state lives in Redis, never in faust tables
            topic_partitions=self.settings.partitions,
            topic_replication_factor=self.settings.replication_factor,
            broker_session_timeout=self.settings.session_timeout,
            broker_heartbeat_interval=min(3.0, self.settings.session_timeout / 3),
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            web_enabled=True,
            web_bind=self.settings.metrics_host,
            web_port=self.settings.worker_metrics_port(name),
            web_in_thread=False,
            datadir=str(self.settings.home / "faust" / name),
            logging_config=logging_config(self.settings.log_level, self.settings.log_json),
        )
        self._install_pages()
        self.app.timer(interval=5.0)(self._export_lag)

    def topic(self, spec: TopicSpec) -> faust.TopicT:
        return self.app.topic(topic_name(self.settings.topic_prefix, spec), value_serializer="raw",
                              key_serializer="raw")

    # -- consuming ---------------------------------------------------------------------------------

    def consume(self, spec: TopicSpec, handler: Handler) -> None:
        """Run ``handler`` on every valid message of ``spec``'s topic; dead-letter the rest."""
        self._register(spec)

        async def agent(stream: faust.StreamT) -> None:
            async for event in stream.events():
                started = time.perf_counter()
                try:
                    decoded, delivery = await self._decoded(spec, event.message)
                    if decoded is not None:
                        await self._handle_with_retries(handler, decoded, delivery)
                finally:
                    PROCESSING_SECONDS.labels(self.name).observe(time.perf_counter() - started)
                    self._positions[(event.message.topic, event.message.partition)] = event.message.offset + 1
                raise_if_cancel_lost()

        self._add_agent(spec, agent)

    def consume_batches(self, spec: TopicSpec, handler: BatchHandler, single: Handler, size: int,
                        within: float) -> None:
        """Like :meth:`consume`, but valid messages go to ``handler`` in batches of up to ``size``,
        gathered for at most ``within`` seconds; offsets are committed once a batch is handled.
        A batch that fails for any reason but a passing outage is handled again one message at a
        time with ``single``, so a poison message goes to the dead-letter topic alone."""
        self._register(spec)

        async def agent(stream: faust.StreamT) -> None:
            async for events in stream.take_events(size, within):
                started = time.perf_counter()
                try:
                    batch = []
                    for event in events:
                        decoded, delivery = await self._decoded(spec, event.message)
                        if decoded is not None:
                            batch.append((decoded, delivery))
                    if batch:
                        await self._handle_batch(handler, single, batch)
                finally:
                    elapsed = (time.perf_counter() - started) / max(len(events), 1)
                    for event in events:
                        PROCESSING_SECONDS.labels(self.name).observe(elapsed)
                        self._positions[(event.message.topic, event.message.partition)] = event.message.offset + 1
                raise_if_cancel_lost()

        self._add_agent(spec, agent)

    def _register(self, spec: TopicSpec) -> None:
        # Series exist from the start at 0, so the first burst shows up as a rate, not a jump from nothing.
        MESSAGES_CONSUMED.labels(self.name, spec.name)
        for error_class in (dead_letters.DECODE, dead_letters.SCHEMA, dead_letters.PROCESSING):
            DEAD_LETTERS.labels(self.name, spec.name, error_class)

    def _add_agent(self, spec: TopicSpec, agent: Callable[[faust.StreamT], Awaitable[None]]) -> None:
        agent.__name__ = f"{self.name}_{spec.name.replace('-', '_')}"
        agent.__qualname__ = agent.__name__
        self.app.agent(self.topic(spec), name=f"marsad.{self.name}.{spec.name}")(agent)

    async def _decoded(self, spec: TopicSpec, message: Any) -> tuple[dict[str, Any] | None, Delivery]:
        """The message's content, or None when it went to the dead-letter topic as unreadable."""
        from .codec import decode

        delivery = Delivery(message.topic, message.partition, message.offset, message.key, message.value or b"")
        MESSAGES_CONSUMED.labels(self.name, spec.name).inc()
        try:
            return decode(spec, message.value), delivery
        except DecodeError as exc:
            await self.send_dead_letter(delivery, dead_letters.DECODE, str(exc), None)
        except SchemaError as exc:
            await self.send_dead_letter(delivery, dead_letters.SCHEMA, str(exc), None)
        return None, delivery

    async def _retrying(self, attempt: Callable[[], Awaitable[None]], delivery: Delivery, doc_id: str | None) -> None:
        """Run ``attempt`` until no transient failure (Redis or Kafka unreachable) stops it:
        retrying in place keeps order and loses nothing; the lag alert tells operators."""
        backoff = 0.5
        while True:
            try:
                await attempt()
                return
            except TRANSIENT_ERRORS as exc:
                RETRIES.labels(self.name, type(exc).__name__).inc()
                log.warning("%s: transient failure on %s[%d]@%d, retrying in %.1fs: %s", self.name,
                            delivery.topic, delivery.partition, delivery.offset, backoff, exc,
                            extra=self.log_context(delivery, doc_id))
                raise_if_cancel_lost()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)

    async def _handle_with_retries(self, handler: Handler, message: dict[str, Any], delivery: Delivery) -> None:
        doc_id = message.get("doc_id")
        try:
            await self._retrying(lambda: handler(message, delivery), delivery, doc_id)
        except ProcessingError as exc:
            await self.send_dead_letter(delivery, exc.error_class, str(exc), doc_id)
        except SchemaError as exc:
            # Our own output broke its schema: a bug, but the input must not be lost.
            await self.send_dead_letter(delivery, dead_letters.OUTPUT_SCHEMA, str(exc), doc_id)
        except Exception as exc:
            log.exception("%s: processing failed on %s[%d]@%d", self.name, delivery.topic,
                          delivery.partition, delivery.offset, extra=self.log_context(delivery, doc_id))
            await self.send_dead_letter(delivery, dead_letters.PROCESSING, f"{type(exc).__name__}: {exc}", doc_id)

    async def _handle_batch(self, handler: BatchHandler, single: Handler,
                            batch: list[tuple[dict[str, Any], Delivery]]) -> None:
        first = batch[0][1]
        try:
            await self._retrying(lambda: handler(batch), first, None)
        except Exception as exc:
            # Handling is idempotent, so whatever the batch did before failing is done again harmlessly.
            log.warning("%s: a batch of %d from %s[%d]@%d failed (%s: %s); handling its messages one at a time",
                        self.name, len(batch), first.topic, first.partition, first.offset, type(exc).__name__, exc,
                        extra=self.log_context(first))
            for message, delivery in batch:
                await self._handle_with_retries(single, message, delivery)

    # -- producing ---------------------------------------------------------------------------------

    async def send(self, spec: TopicSpec, key: str, message: dict[str, Any]) -> None:
        """Validate, send and wait for the broker's acknowledgement (at-least-once)."""
        value = encode(spec, message)
        pending = await self.topic(spec).send(key=key.encode("utf-8"), value=value)
        await pending
        MESSAGES_PRODUCED.labels(self.name, spec.name).inc()

    async def send_dead_letter(self, delivery: Delivery, error_class: str, reason: str,
                               doc_id: str | None) -> None:
        if doc_id is None and delivery.key:
            # Every topic is keyed by document or article id, so an unreadable one can still be accounted for.
            doc_id = delivery.key.decode("utf-8", "replace")
        letter = dead_letters.dead_letter(
            stage=self.name, topic=delivery.topic, partition=delivery.partition, offset=delivery.offset,
            key=delivery.key, value=delivery.value, error_class=error_class, reason=reason, doc_id=doc_id)
        log.warning("%s: dead letter (%s) for %s[%d]@%d: %s", self.name, error_class, delivery.topic,
                    delivery.partition, delivery.offset, reason[:300],
                    extra={**self.log_context(delivery, doc_id), "error_class": error_class})
        await self.send(DEAD_LETTER_TOPIC, letter["dead_letter_id"], letter)
        DEAD_LETTERS.labels(self.name, self._bare(delivery.topic), error_class).inc()
        if doc_id:
            await self.mark_outcome(doc_id, outcome_value(OUTCOME_DEAD_LETTER, f"{self.name}:{error_class}"))

    def log_context(self, delivery: Delivery, doc_id: str | None = None, **ids: str) -> dict[str, Any]:
        """Fields a structured log line carries about the message it concerns."""
        return {"stage": self.name, "doc_id": doc_id, "topic": self._bare(delivery.topic),
                "partition": delivery.partition, "offset": delivery.offset, **ids}

    async def mark_outcome(self, doc_id: str, value: str) -> None:
        await record_outcome(self.redis, self.keys, doc_id, value, self._outcome_ttl)

    async def mark_outcomes(self, outcomes: dict[str, str]) -> None:
        """What became of each document of a batch (doc id -> outcome value), in one round trip."""
        await record_outcomes(self.redis, self.keys, outcomes, self._outcome_ttl)

    # -- health and metrics ------------------------------------------------------------------------

    def _install_pages(self) -> None:
        app = self.app

        @app.page("/metrics")
        async def metrics(web: Any, request: Any) -> Any:
            return web.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

        @app.page("/healthz")
        async def healthz(web: Any, request: Any) -> Any:
            return web.json({"status": "alive", "stage": self.name})

        @app.page("/readyz")
        async def readyz(web: Any, request: Any) -> Any:
            state = await self.readiness()
            return web.json(state, status=200 if state["ready"] else 503)

    async def readiness(self) -> dict[str, Any]:
        try:
            redis_ok = bool(await asyncio.wait_for(self.redis.ping(), timeout=2))
        except Exception:
            redis_ok = False
        try:
            assigned = len(self.app.consumer.assignment())
        except Exception:
            assigned = 0
        ready = redis_ok and assigned > 0
        WORKER_UP.labels(self.name).set(1 if ready else 0)
        return {"ready": ready, "stage": self.name, "redis": redis_ok, "assigned_partitions": assigned}

    def _bare(self, topic: str) -> str:
        """Topic label without the deployment's prefix, as every metric writes it."""
        return topic.removeprefix(self.settings.topic_prefix)

    def _our_partitions(self) -> list[Any]:
        """Assigned partitions of Marsad's topics (not faust's leader topic, whose name may start with
        the topic prefix too)."""
        return [tp for tp in self.app.consumer.assignment() if tp.topic in self._our_topics]

    async def _export_lag(self) -> None:
        """Lag from the high-watermarks fetch responses carry (ListOffsets can be stale on Tansu)."""
        try:
            consumer = self.app.consumer
            for tp in self._our_partitions():
                highwater = consumer.highwater(tp)
                if highwater is None:
                    continue
                # Before this process has handled a message of the partition, the group's committed
                # offset is where it stands (not 0, which would count the whole partition as lag).
                position = self._positions.get((tp.topic, tp.partition))
                if position is None:
                    position = consumer._committed_offset.get(tp) or 0
                CONSUMER_LAG.labels(self.name, self._bare(tp.topic), str(tp.partition)).set(
                    max(highwater - position, 0))
        except Exception as exc:
            log.debug("lag export skipped: %s", exc)
        await self.readiness()

    # -- running -----------------------------------------------------------------------------------

    def run(self) -> None:
        """Run the worker in the foreground until SIGTERM/SIGINT (faust handles both cleanly)."""
        publish_build_info(self.name)
        (self.settings.home / "faust" / self.name).parent.mkdir(parents=True, exist_ok=True)
        sys.argv = [f"marsad-{self.name}", "worker", "--loglevel", self.settings.log_level]
        heap.settle()
        self.app.main()
