"""The alias registry in Redis: which names are known, which short names link to longer ones.

First writer wins (SET NX) for every link and display name, so canonical ids and names stay
stable across restarts and replays, and a redelivered article teaches nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis.asyncio as aioredis

from services.common.redis_store import Keys

from .canonical import entity_id
from .extract import Extraction, RegistrySnapshot


class AliasRegistry:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def _link_key(self, entity_type: str, key: str) -> str:
        return self.keys("entity", "link", entity_type, key)

    def _name_key(self, canonical_id: str) -> str:
        return self.keys("entity", "name", canonical_id)

    async def snapshot(self, lookups: Iterable[tuple[str, str]]) -> RegistrySnapshot:
        pairs = sorted(set(lookups))
        if not pairs:
            return RegistrySnapshot()
        targets = await self.client.mget([self._link_key(t, k) for t, k in pairs])
        snapshot = RegistrySnapshot()
        for (entity_type, key), target in zip(pairs, targets, strict=True):
            if target is None:
                continue
            snapshot.known.add((entity_type, key))
            if target != key:
                snapshot.aliases[(entity_type, key)] = target
        canonical = sorted({(t, snapshot.canonical_key(t, k)) for t, k in snapshot.known})
        if canonical:
            names = await self.client.mget([self._name_key(entity_id(t, k)) for t, k in canonical])
            for pair, name in zip(canonical, names, strict=True):
                if name:
                    snapshot.names[pair] = name
        return snapshot

    async def learn(self, extraction: Extraction) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            for (entity_type, key), target in extraction.links.items():
                pipe.set(self._link_key(entity_type, key), target, nx=True)
            for (entity_type, key), name in extraction.names.items():
                pipe.set(self._name_key(entity_id(entity_type, key)), name, nx=True)
            await pipe.execute()
