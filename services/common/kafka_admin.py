"""Topic creation, so a fresh broker or cluster has every topic with the configured partitions."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from .config import Settings
from .kafka_security import kafka_client_options
from .topics import ALL_TOPICS, topic_name

log = logging.getLogger(__name__)

_TOPIC_EXISTS = TopicAlreadyExistsError.errno


async def ensure_topics(settings: Settings, timeout: float = 60.0) -> list[str]:
    """Create any missing topic; returns the names created. Existing topics are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers,
                                client_id="marsad-admin", request_timeout_ms=int(timeout * 1000),
                                **kafka_client_options(settings))
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await admin.start()
            break
        except KafkaConnectionError as exc:
            if asyncio.get_running_loop().time() > deadline:
                # A TLS or SASL failure surfaces as the same bootstrap error: say how we tried.
                raise RuntimeError(f"cannot reach Kafka at {settings.kafka_bootstrap_servers} over "
                                   f"{settings.kafka_security_protocol}: {exc}") from exc
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        wanted = []
        for spec in ALL_TOPICS:
            name = topic_name(settings.topic_prefix, spec)
            if name in existing:
                continue
            configs = {"cleanup.policy": "compact"} if spec.compacted else {}
            wanted.append(NewTopic(name, settings.partitions, settings.replication_factor, topic_configs=configs))
        if not wanted:
            return []
        response = await admin.create_topics(wanted)
        created = []
        for name, code, message in _topic_errors(response):
            if code == 0:
                created.append(name)
            elif code != _TOPIC_EXISTS:
                raise RuntimeError(f"could not create topic {name}: error {code} {message}")
        log.info("created topics: %s", ", ".join(created))
        return created
    finally:
        await admin.close()


def _topic_errors(response: object) -> list[tuple[str, int, str | None]]:
    rows = []
    for entry in getattr(response, "topic_errors", []):
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        rows.append((name, code, message))
    return rows
