"""Redis and Kafka over TLS, the way a managed service offers them: rediss:// and SSL with a private CA.

Neither bundled server speaks TLS itself (see tests/tls.py), so a TLS endpoint with a throwaway CA
stands in front of each; everything on the client's side is Marsad's real code, down to a worker
process that consumes, dead-letters and records its outcome over TLS on both connections.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from services.common.config import Settings
from services.common.embedded import EmbeddedRedis, _wait_for_port, free_port, stop_process, tansu_binary
from services.common.kafka_admin import ensure_topics
from services.common.pipeline import Pipeline
from services.common.redis_store import Keys, connect, connect_async, read_outcomes
from services.common.topics import CLEAN_ARTICLES, RAW_DOCUMENTS
from tests.integration.conftest import produce_raw, read_topic
from tests.tls import Certificates, TlsProxy, make_certificates, server_context

pytestmark = pytest.mark.integration

ARTICLE = """افتتاح مكتبة عامة جديدة في مدينة صور

افتتحت البلدية صباح اليوم مكتبة عامة جديدة في وسط المدينة تضم أكثر من عشرين ألف كتاب وقاعة للمطالعة مفتوحة للطلاب طوال الأسبوع.

وقال رئيس البلدية إن المكتبة ستنظم ورشات أسبوعية للأطفال في القراءة والكتابة بالتعاون مع مدارس المنطقة.
"""


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def redis_tls(redis_server: EmbeddedRedis, certificates: Certificates) -> Iterator[TlsProxy]:
    proxy = TlsProxy(redis_server.port, server_context(certificates)).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def kafka_tls(certificates: Certificates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Tansu listening in plaintext behind a TLS endpoint, which it advertises as its address."""
    backend = free_port()
    proxy = TlsProxy(backend, server_context(certificates)).start()
    log_path = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", f"tcp://127.0.0.1:{backend}",
             "--advertised-listener-url", f"tcp://127.0.0.1:{proxy.port}", "--storage-engine", "memory://tansu/"],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for_port(backend, process, "Tansu", log_path)
        yield f"127.0.0.1:{proxy.port}"
    finally:
        stop_process(process)
        proxy.stop()


def test_redis_over_tls_with_the_ca_setting(redis_tls: TlsProxy, certificates: Certificates) -> None:
    url = f"rediss://localhost:{redis_tls.port}/0"
    settings = Settings(redis_url=url, redis_ssl_cafile=str(certificates.ca))
    client = connect(url, settings)
    try:
        assert client.set("tls:check", "مرصد") and client.get("tls:check") == "مرصد"
    finally:
        client.close()

    async def async_round_trip() -> str | None:
        async_client = connect_async(url, settings=settings)
        try:
            return await async_client.get("tls:check")
        finally:
            await async_client.aclose()

    assert asyncio.run(async_round_trip()) == "مرصد"


def test_redis_over_tls_without_the_ca_fails_on_the_certificate(redis_tls: TlsProxy) -> None:
    url = f"rediss://localhost:{redis_tls.port}/0"
    client = connect(url, Settings(redis_url=url))
    try:
        with pytest.raises(RedisConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            client.ping()
    finally:
        client.close()


def test_redis_client_certificate(redis_server: EmbeddedRedis, certificates: Certificates) -> None:
    proxy = TlsProxy(redis_server.port, server_context(certificates, require_client_cert=True)).start()
    url = f"rediss://127.0.0.1:{proxy.port}/0"
    try:
        anonymous = connect(url, Settings(redis_url=url, redis_ssl_cafile=str(certificates.ca)))
        with pytest.raises(RedisConnectionError):
            anonymous.ping()
        anonymous.close()
        identified = connect(url, Settings(redis_url=url, redis_ssl_cafile=str(certificates.ca),
                                           redis_ssl_certfile=str(certificates.client_cert),
                                           redis_ssl_keyfile=str(certificates.client_key)))
        assert identified.ping()
        identified.close()
    finally:
        proxy.stop()


def test_kafka_topics_over_ssl_need_the_ca(kafka_tls: str, certificates: Certificates) -> None:
    without_ca = Settings(kafka_bootstrap_servers=kafka_tls, kafka_security_protocol="SSL")
    with pytest.raises(RuntimeError, match=f"cannot reach Kafka at {kafka_tls} over SSL"):
        asyncio.run(ensure_topics(without_ca, timeout=3))
    with_ca = Settings(kafka_bootstrap_servers=kafka_tls, kafka_security_protocol="SSL",
                       kafka_ssl_cafile=str(certificates.ca), topic_prefix="tls-topics.")
    assert "tls-topics.raw-documents" in asyncio.run(ensure_topics(with_ca))


def test_a_worker_consumes_and_records_over_tls(kafka_tls: str, redis_tls: TlsProxy, certificates: Certificates,
                                                tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    redis_url = f"rediss://localhost:{redis_tls.port}/0"
    settings = Settings(kafka_bootstrap_servers=kafka_tls, kafka_security_protocol="SSL",
                        kafka_ssl_cafile=str(certificates.ca), redis_url=redis_url,
                        redis_ssl_cafile=str(certificates.ca), topic_prefix=f"t{tag}.", redis_prefix=f"t{tag}:",
                        home=tmp_path)
    pipeline = Pipeline.services(settings)
    assert pipeline.broker is None and pipeline.redis is None, "both are configured: nothing embedded"
    try:
        pipeline.create_topics()
        pipeline.start_workers(("ingest",))
        pipeline.wait_ready(timeout=120)  # ready = Redis answered and the group assigned partitions
        article = {"schema_version": 1, "doc_id": "tls-article", "source": "tests", "content_type": "text/plain",
                   "content": ARTICLE, "received_at": "2026-11-10T08:00:00Z"}
        asyncio.run(produce_raw(settings, RAW_DOCUMENTS, [
            (b"tls-junk", b"\xff not JSON"), (b"tls-article", json.dumps(article, ensure_ascii=False).encode())]))
        # The article passes the near-duplicate index, whose Redis client gets the CA from the environment.
        clean = asyncio.run(read_topic(settings, CLEAN_ARTICLES, until=1, timeout=60))
        assert [json.loads(m.value)["doc_id"] for m in clean] == ["tls-article"]
        client = connect(redis_url, settings)
        deadline = time.monotonic() + 60
        try:
            while not (outcomes := read_outcomes(client, Keys(settings.redis_prefix), ["tls-junk"])):
                pipeline.check_alive()
                assert time.monotonic() < deadline, "the worker recorded no outcome over TLS"
                time.sleep(0.25)
        finally:
            client.close()
        assert outcomes == {"tls-junk": "dead-letter:ingest:decode"}
    finally:
        pipeline.stop()
