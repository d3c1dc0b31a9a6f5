"""Redis helpers: one connection factory, namespaced keys, timed calls and pipeline outcomes.

Every key Marsad writes starts with the configured prefix, so ``--fresh`` can clear Marsad's
state without touching anything else that lives in the same Redis.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis import Redis
from redis.exceptions import DataError, RedisError

from .config import ConfigError, Settings
from .metrics import REDIS_ERRORS, REDIS_SECONDS


class Keys:
    """Builds namespaced keys: ``Keys("marsad:").outcome("d1") == "marsad:outcome:d1"``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def outcome(self, doc_id: str) -> str:
        return self("outcome", doc_id)


class _TimedPipeline(aioredis.client.Pipeline):
    stage = "unknown"

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        started = time.perf_counter()
        try:
            return await super().execute(raise_on_error)
        except RedisError:
            REDIS_ERRORS.labels(self.stage, "pipeline").inc()
            raise
        finally:
            REDIS_SECONDS.labels(self.stage, "pipeline").observe(time.perf_counter() - started)


class TimedRedis(aioredis.Redis):
    """An asyncio Redis client that records every command's round trip (labelled by command name,
    a bounded set) and every failure, for the stage it serves."""

    stage = "unknown"

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        operation = str(args[0]).lower() if args else "unknown"
        started = time.perf_counter()
        try:
            return await super().execute_command(*args, **options)
        except RedisError:
            REDIS_ERRORS.labels(self.stage, operation).inc()
            raise
        finally:
            REDIS_SECONDS.labels(self.stage, operation).observe(time.perf_counter() - started)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> aioredis.client.Pipeline:
        pipe = _TimedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe.stage = self.stage
        return pipe


def tls_options(url: str, settings: Settings | None = None) -> dict[str, str]:
    """redis-py's TLS arguments from the REDIS_SSL_* settings, for a ``rediss://`` URL only (a plain
    connection takes none, and the embedded valkey-server is plain). ``settings`` defaults to the
    environment's, so callers that only have a URL still honour a private CA."""
    if not url.lower().startswith("rediss://"):
        return {}
    settings = settings if settings is not None else Settings.from_env()
    options = {}
    for var, value, argument in (("REDIS_SSL_CAFILE", settings.redis_ssl_cafile, "ssl_ca_certs"),
                                 ("REDIS_SSL_CERTFILE", settings.redis_ssl_certfile, "ssl_certfile"),
                                 ("REDIS_SSL_KEYFILE", settings.redis_ssl_keyfile, "ssl_keyfile")):
        if not value:
            continue
        # redis-py reads these files only when it first connects, and a worker retries connection
        # errors forever: a wrong path has to stop it here instead.
        if not (Path(value).is_file() and os.access(value, os.R_OK)):
            raise ConfigError(f"{var}={value!r} is not a readable file")
        options[argument] = value
    return options


def connect_async(url: str, stage: str = "cli", settings: Settings | None = None) -> aioredis.Redis:
    pool = aioredis.ConnectionPool.from_url(url, decode_responses=True, health_check_interval=30,
                                            socket_connect_timeout=5, socket_timeout=30, retry_on_timeout=True,
                                            **tls_options(url, settings))
    pool.connection_class = _hiredis_packing(pool.connection_class)
    client = TimedRedis.from_pool(pool)  # the client owns the pool and closes it
    client.stage = stage
    return client


class _HiredisPacking:
    """Commands packed by hiredis, as redis-py's sync client does when hiredis is installed; its
    asyncio connections encode argument by argument in Python, and the events stage sends about
    500 arguments per article."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str):
            args = (*args[0].encode().split(), *args[1:])  # "CONFIG GET" and the like: separate words
        try:
            return [hiredis.pack_command(args)]
        except TypeError as exc:
            raise DataError(str(exc)) from None


_PACKING_CLASSES: dict[type, type] = {}


def _hiredis_packing(connection_class: type) -> type:
    if not hasattr(hiredis, "pack_command"):  # hiredis before 2.1
        return connection_class
    if connection_class not in _PACKING_CLASSES:
        _PACKING_CLASSES[connection_class] = type(f"Hiredis{connection_class.__name__}",
                                                  (_HiredisPacking, connection_class), {})
    return _PACKING_CLASSES[connection_class]


def connect(url: str, settings: Settings | None = None) -> Redis:
    return Redis.from_url(url, decode_responses=True, socket_connect_timeout=5, socket_timeout=30,
                          **tls_options(url, settings))


# A document's outcome says where it left the pipeline; replays wait for every document to have one.
OUTCOME_EVENT = "event"
OUTCOME_DEAD_LETTER = "dead-letter"
OUTCOME_SKIPPED = "skipped"


def outcome_value(kind: str, detail: str) -> str:
    return f"{kind}:{detail}"


async def record_outcome(client: aioredis.Redis, keys: Keys, doc_id: str, value: str, ttl_seconds: int) -> None:
    await client.set(keys.outcome(doc_id), value, ex=ttl_seconds)


async def record_outcomes(client: aioredis.Redis, keys: Keys, outcomes: dict[str, str], ttl_seconds: int) -> None:
    """Several documents' outcomes in one round trip (a batch's worth, not one per document)."""
    async with client.pipeline(transaction=False) as pipe:
        for doc_id, value in outcomes.items():
            pipe.set(keys.outcome(doc_id), value, ex=ttl_seconds)
        await pipe.execute()


def read_outcomes(client: Redis, keys: Keys, doc_ids: Iterable[str], batch: int = 500) -> dict[str, str]:
    """Outcomes known so far for ``doc_ids`` (documents still in flight are absent)."""
    ids = list(doc_ids)
    found: dict[str, str] = {}
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        for doc_id, value in zip(chunk, client.mget([keys.outcome(d) for d in chunk]), strict=True):
            if value is not None:
                found[doc_id] = value
    return found


def delete_prefixed(client: Redis, prefix: str) -> int:
    """Remove every key under ``prefix``; returns how many went."""
    removed = 0
    batch: list[Any] = []
    for key in client.scan_iter(match=prefix + "*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            removed += client.unlink(*batch)
            batch.clear()
    if batch:
        removed += client.unlink(*batch)
    return removed
