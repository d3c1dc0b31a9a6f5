"""Seen URLs: the first article that came from a canonical URL, remembered in Redis for a while.

A URL is keyed by a hash of its canonical form (:func:`services.ingest.urls.canonical_url`), so
keys stay short whatever the URL's length. SET NX makes the first writer win, and a redelivered
message finds its own id, so it stays the original.
"""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis

from services.common.redis_store import Keys

__all__ = ["SeenUrls"]


class SeenUrls:
    """``first_article_for_url`` answers which article first carried a URL within ``ttl_seconds``."""

    def __init__(self, client: aioredis.Redis, keys: Keys, ttl_seconds: int) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive: seen URLs must expire")
        self.client = client
        self.keys = keys
        self.ttl_seconds = ttl_seconds

    def key(self, canonical: str) -> str:
        digest = hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).hexdigest()
        return self.keys("ingest", "url", digest)

    async def first_article_for_url(self, canonical: str, article_id: str) -> str:
        """The article first seen with this URL: ``article_id`` itself when it is the first."""
        key = self.key(canonical)
        # One round trip, atomic: claim the key if free, then read whoever holds it.
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(key, article_id, nx=True, ex=self.ttl_seconds)
            pipe.get(key)
            _, holder = await pipe.execute()
        if holder is None:  # expired between the two commands: cannot happen inside MULTI, kept for safety
            return article_id
        return holder.decode("utf-8") if isinstance(holder, bytes) else str(holder)
