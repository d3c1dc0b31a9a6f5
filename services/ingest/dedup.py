"""First copies: which article first carried a URL or a text, remembered in Redis for a while.

A value is keyed by a hash of it (a canonical URL from :func:`services.ingest.urls.canonical_url`,
or a text fingerprint), so keys stay short whatever its length. SET NX makes the first writer win,
and a redelivered message finds its own id, so it stays the original.
"""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis

from services.common.redis_store import Keys

__all__ = ["FirstSeen", "SeenUrls"]


class FirstSeen:
    """``first_article`` answers which article first carried a value of one ``kind`` within ``ttl_seconds``."""

    def __init__(self, client: aioredis.Redis, keys: Keys, ttl_seconds: int, kind: str) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive: seen {kind} values must expire")
        self.client = client
        self.keys = keys
        self.ttl_seconds = ttl_seconds
        self.kind = kind

    def key(self, value: str) -> str:
        digest = hashlib.blake2b(value.encode("utf-8"), digest_size=16).hexdigest()
        return self.keys("ingest", self.kind, digest)

    async def first_article(self, value: str, article_id: str) -> str:
        """The article first seen with this value: ``article_id`` itself when it is the first."""
        key = self.key(value)
        # One round trip, atomic: claim the key if free, then read whoever holds it.
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(key, article_id, nx=True, ex=self.ttl_seconds)
            pipe.get(key)
            _, holder = await pipe.execute()
        if holder is None:  # expired between the two commands: cannot happen inside MULTI, kept for safety
            return article_id
        return holder.decode("utf-8") if isinstance(holder, bytes) else str(holder)


class SeenUrls(FirstSeen):
    """The first article that came from a canonical URL."""

    def __init__(self, client: aioredis.Redis, keys: Keys, ttl_seconds: int) -> None:
        super().__init__(client, keys, ttl_seconds, "url")

    async def first_article_for_url(self, canonical: str, article_id: str) -> str:
        return await self.first_article(canonical, article_id)
