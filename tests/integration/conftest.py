"""A real pipeline for integration tests: Tansu, valkey-server and the three workers as processes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.common.config import Settings
from services.common.embedded import EmbeddedRedis
from services.common.kafka_security import kafka_client_options
from services.common.pipeline import Pipeline
from services.common.redis_store import connect_async
from services.common.topics import TopicSpec, topic_name

pytestmark = pytest.mark.integration


def start_pipeline(home: Path, configure: Callable[[Settings], Settings] = lambda s: s) -> Pipeline:
    # A fresh prefix per pipeline keeps tests apart even where Redis is shared.
    tag = uuid.uuid4().hex[:8]
    settings = configure(replace(Settings.from_env({}), home=home, topic_prefix=f"t{tag}.", redis_prefix=f"t{tag}:"))
    pipeline = Pipeline.services(settings)
    try:
        pipeline.create_topics()
        pipeline.start_workers()
        pipeline.wait_ready(timeout=180)
    except BaseException:
        pipeline.stop()
        raise
    return pipeline


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A real valkey-server for tests of Redis-backed state (one per test module)."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis-home")).start()
    yield server
    server.stop()


@pytest.fixture
async def client(redis_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    connection = connect_async(redis_server.url)
    yield connection
    await connection.aclose()


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    # Structured logs on, so tests can follow an article by its ids.
    running = start_pipeline(tmp_path_factory.mktemp("marsad-home"), lambda s: replace(s, log_json=True))
    yield running
    running.stop()


async def read_topic(settings: Settings, spec: TopicSpec, *, until: int | None = None,
                     timeout: float = 30.0) -> list[Any]:
    """Every message on a topic from the beginning (stops at ``until`` messages or after ``timeout``)."""
    consumer = AIOKafkaConsumer(topic_name(settings.topic_prefix, spec),
                                bootstrap_servers=settings.kafka_bootstrap_servers,
                                group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                                **kafka_client_options(settings))
    await consumer.start()
    messages: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                messages.extend(records)
            if until is not None and len(messages) >= until:
                break
    finally:
        await consumer.stop()
    return messages


async def produce_raw(settings: Settings, spec: TopicSpec, items: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all",
                                **kafka_client_options(settings))
    await producer.start()
    try:
        for key, value in items:
            await producer.send_and_wait(topic_name(settings.topic_prefix, spec), value, key=key)
    finally:
        await producer.stop()
