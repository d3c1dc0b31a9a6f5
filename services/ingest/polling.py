"""Running the feed poller inside the ingest worker, under a Redis lease.

Every ingest instance could poll, but the feeds should be polled once: instances compete for a
short lease in Redis and only its holder polls. When the holder dies its lease runs out and
another instance takes over, picking up the feed state (ETags, seen items) the first left.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from services.common.cancellation import raise_if_cancel_lost
from services.common.config import Settings
from services.common.redis_store import Keys

from .http import Fetcher, FetchSettings
from .poller import FeedPoller
from .sources import load_sources

log = logging.getLogger(__name__)

LEASE_SECONDS = 30
RENEW_SECONDS = 10


def fetch_settings(settings: Settings) -> FetchSettings:
    hosts: list[str] = []
    networks: list[str] = []
    for entry in filter(None, (part.strip() for part in settings.fetch_allow.split(","))):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            hosts.append(entry)
        else:
            networks.append(entry)
    return FetchSettings(max_bytes=settings.fetch_max_bytes, per_host_delay=settings.fetch_host_delay,
                         allowed_hosts=tuple(hosts), allowed_networks=tuple(networks))


async def poll_under_lease(settings: Settings, client: aioredis.Redis, keys: Keys,
                           publish: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    """Hold the polling lease when free and poll while holding it; runs until cancelled."""
    sources = load_sources(settings.sources)
    lease = keys("feed", "lease")
    me = f"{socket.gethostname()}:{os.getpid()}"
    while True:
        if await client.set(lease, me, nx=True, ex=LEASE_SECONDS) or await client.get(lease) == me:
            log.info("holding the polling lease: polling %d sources", len(sources))
            async with Fetcher(fetch_settings(settings)) as fetcher:
                poller = FeedPoller(sources, fetcher=fetcher, redis=client, keys=keys, publish=publish)
                polling = asyncio.create_task(poller.run(), name="feed-poller")
                try:
                    while not polling.done():
                        await asyncio.sleep(RENEW_SECONDS)
                        # Renew only a lease that is still ours; lost it (a long pause): stop polling.
                        if await client.get(lease) != me:
                            log.warning("lost the polling lease; another instance polls now")
                            break
                        await client.expire(lease, LEASE_SECONDS)
                finally:
                    polling.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await polling
        raise_if_cancel_lost()
        await asyncio.sleep(RENEW_SECONDS)
