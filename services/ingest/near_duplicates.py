"""Near-duplicates: the first article whose text is almost the same as this one's (an agency story
republished by an outlet, a lightly edited copy), found with MinHash LSH kept in Redis.

Signatures are datasketch :class:`~datasketch.MinHash` over word 5-shingles of the matching form of
the text (:func:`services.common.arabic.normalize_for_matching`: diacritics, alef forms, teh
marbuta folded). The banding is datasketch's own choice of ``(bands, rows)`` for the threshold
(:class:`~datasketch.MinHashLSH`), but the index lives on redis.asyncio rather than in datasketch's
Redis storage, because that storage never expires anything, runs on the sync client (a thread
per call) and refuses a key inserted twice. Here every key has a TTL:

* ``nd:sig:<article>`` — ``"<seq>:<base64 signature>"``; ``seq`` (from ``nd:seq``) is first-seen order;
* ``nd:band:<i>:<hash>`` — a sorted set of the articles whose band ``i`` hashes there, scored by
  the time they were added; members older than the TTL are trimmed whenever the band is written.

Candidates from the bands are verified against their stored signatures, so a band collision alone
never makes a duplicate.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable

import numpy as np
import redis.asyncio as aioredis
from datasketch import MinHash, MinHashLSH

from services.common.arabic import normalize_for_matching
from services.common.redis_store import Keys, connect_async

__all__ = ["DEFAULT_THRESHOLD", "NearDuplicateIndex", "estimated_jaccard", "minhash", "shingles"]

# Measured on SaudiNewsNet (tests/bench/near_duplicates.py): republications of one press release
# mostly agree on 0.7+ of their values, while template stories about different things (royal
# cables to two countries, two days' weather bulletins) reach 0.53-0.56; 0.6 keeps them apart.
DEFAULT_THRESHOLD = 0.6
NUM_PERM = 128
SHINGLE_WORDS = 5
DEFAULT_TTL_SECONDS = 7 * 86400
# A band bucket shared by very many articles (boilerplate-only texts) is cut to its earliest members.
MAX_CANDIDATES_PER_BAND = 100

_WORD = re.compile(r"\w+")


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """Word ``size``-shingles of the matching form of ``text``; a shorter text is one shingle."""
    words = _WORD.findall(normalize_for_matching(text).lower())
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}


def minhash(text: str, num_perm: int = NUM_PERM) -> MinHash:
    """The MinHash of ``text``'s shingles (empty for a text without words)."""
    signature = MinHash(num_perm=num_perm)
    signature.update_batch([s.encode("utf-8") for s in sorted(shingles(text))])
    return signature


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Share of equal MinHash values: the estimate of the two shingle sets' Jaccard similarity."""
    return float(np.count_nonzero(a == b)) / len(a)


class NearDuplicateIndex:
    """Find the first-seen near-duplicate of an article, then index the article."""

    def __init__(
        self,
        redis_url: str,
        prefix: str,
        threshold: float = DEFAULT_THRESHOLD,
        num_perm: int = NUM_PERM,
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        client: aioredis.Redis | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive: the index must expire")
        self.client = client if client is not None else connect_async(redis_url)
        self._owns_client = client is None
        self.keys = Keys(prefix)
        self.threshold = threshold
        self.num_perm = num_perm
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        # datasketch's (bands, rows) minimizing false positives + negatives around the threshold.
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.bands, self.rows = lsh.b, lsh.r

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    # --- pure --------------------------------------------------------------------------------

    def signature(self, text: str) -> MinHash:
        """The MinHash of ``text``'s shingles (empty for a text without words)."""
        return minhash(text, self.num_perm)

    def band_keys(self, signature: MinHash) -> list[str]:
        values = signature.hashvalues.astype(np.uint32)
        keys = []
        for band in range(self.bands):
            chunk = values[band * self.rows:(band + 1) * self.rows].tobytes()
            digest = hashlib.blake2b(chunk, digest_size=10).hexdigest()
            keys.append(self.keys("nd", "band", str(band), digest))
        return keys

    def signature_key(self, article_id: str) -> str:
        return self.keys("nd", "sig", article_id)

    # --- Redis -------------------------------------------------------------------------------

    async def find_original(self, article_id: str, text: str | MinHash) -> str | None:
        """The earliest indexed article (other than this one) whose signature agrees on at least
        ``threshold`` of its values; None when there is none, i.e. this article is the original.

        When this article is itself indexed already (a redelivery), only articles indexed before it
        count, so it reports what it reported the first time, never a later copy.
        """
        signature = self.signature(text) if isinstance(text, str) else text
        if signature.is_empty():
            return None  # no words: every empty text would "match" every other
        oldest = self.clock() - self.ttl_seconds
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.get(self.signature_key(article_id))
            for key in self.band_keys(signature):
                pipe.zrangebyscore(key, oldest, "+inf", start=0, num=MAX_CANDIDATES_PER_BAND)
            own, *buckets = await pipe.execute()
        candidates = sorted({_text(member) for bucket in buckets for member in bucket} - {article_id})
        if not candidates:
            return None
        own_seq = _parse(own)[0] if own is not None else None
        stored = await self.client.mget([self.signature_key(c) for c in candidates])
        matches = []
        values = signature.hashvalues.astype(np.uint32)
        for candidate, record in zip(candidates, stored, strict=True):
            if record is None:
                continue  # expired since it was put in the band
            seq, hashvalues = _parse(record)
            if own_seq is not None and seq >= own_seq:
                continue  # indexed after this article: a later copy, never its original
            if estimated_jaccard(values, hashvalues) >= self.threshold:
                matches.append((seq, candidate))
        return min(matches)[1] if matches else None

    async def add(self, article_id: str, signature: MinHash) -> None:
        """Index an article; adding it again keeps its first-seen place (and changes nothing else)."""
        if signature.is_empty():
            return
        seq = await self.client.incr(self.keys("nd", "seq"))
        now = self.clock()
        encoded = base64.b64encode(signature.hashvalues.astype(np.uint32).tobytes()).decode("ascii")
        async with self.client.pipeline(transaction=True) as pipe:
            # NX everywhere: a redelivered article keeps its first sequence number and band scores.
            pipe.set(self.signature_key(article_id), f"{seq}:{encoded}", nx=True, ex=self.ttl_seconds)
            for key in self.band_keys(signature):
                pipe.zadd(key, {article_id: now}, nx=True)
                pipe.zremrangebyscore(key, "-inf", f"({now - self.ttl_seconds}")
                pipe.expire(key, self.ttl_seconds)
            await pipe.execute()


def _text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _parse(record: str | bytes) -> tuple[int, np.ndarray]:
    seq, _, encoded = _text(record).partition(":")
    return int(seq), np.frombuffer(base64.b64decode(encoded), dtype=np.uint32)
