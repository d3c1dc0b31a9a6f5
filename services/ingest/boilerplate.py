"""Per-source boilerplate learning: the lines an outlet prints on many of its pages are its chrome.

For each source, Redis counts in how many of its recent articles each line fingerprint
(:func:`services.ingest.cleaning.line_fingerprint`: digits, punctuation, spelling folded) occurs.
A line in at least ``min_articles`` of the source's articles within the window, the article being
cleaned included, is chrome: menus, share buttons, "تابعونا على تويتر", a subscription prompt —
short or long, what matters is that it recurs across different articles. A body sentence is
printed once; it becomes chrome only if the outlet reprints it verbatim in ``min_articles``
different texts.

How the ingest worker uses it, per document::

    lines = document_lines(text)  # the page's lines as the cleaner sees them (HTML: the extracted text)
    chrome = await model.snapshot(source, lines)  # one round trip
    cleaned = clean_text(text, title_hint=title, is_known_chrome=chrome_oracle(chrome))
    await model.learn(source, article_id, lines)  # every line, kept or dropped

Counting is idempotent per text, not only per message: an article's distinct fingerprints are
counted once (a line repeated inside it counts once), and the same text arriving again — a
redelivery, or the same story under a second URL (al-madina's ``?weekly`` copies) — is not
counted again. :meth:`BoilerplateModel.snapshot` leaves out the article's own earlier
contribution, so a redelivered article is cleaned exactly as the first time.

Keys (all expiring when their day leaves the window, so nothing grows without bound):

* ``ingest:chrome:<source>:<day>`` — hash: fingerprint -> number of distinct texts that day;
* ``ingest:chrome-text:<source>:<day>:<digest>`` — this text was counted (value: its article id).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable

import redis.asyncio as aioredis

from services.common.arabic import normalize_display
from services.common.redis_store import Keys

from .cleaning import ChromeOracle, line_fingerprint

__all__ = ["BoilerplateModel", "chrome_oracle", "document_lines"]

DAY = 86400
DEFAULT_MIN_ARTICLES = 3
DEFAULT_WINDOW_DAYS = 7
# A line of punctuation only ("***", "—") has no words to recur; all such lines share one key.
_EMPTY = line_fingerprint("")


def document_lines(text: str) -> list[str]:
    """The non-empty lines of a document in display form, as :func:`clean_text` cuts them."""
    return [line for line in normalize_display(text).split("\n") if line]


def chrome_oracle(chrome: set[str]) -> ChromeOracle:
    """The ``is_known_chrome`` callback for the cleaner, from a :meth:`BoilerplateModel.snapshot`."""
    return lambda line: line_fingerprint(line) in chrome


class BoilerplateModel:
    """Rolling per-source line counts in Redis, summed over ``window_days`` day buckets."""

    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        *,
        min_articles: int = DEFAULT_MIN_ARTICLES,
        window_days: int = DEFAULT_WINDOW_DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if min_articles < 2:
            raise ValueError("min_articles must be at least 2: a line of one article is its own text")
        if window_days < 1:
            raise ValueError("window_days must be at least 1")
        self.client = client
        self.keys = keys
        self.min_articles = min_articles
        self.window_days = window_days
        self.clock = clock

    def _today(self) -> int:
        return int(self.clock() // DAY)

    def bucket_key(self, source: str, day: int) -> str:
        return self.keys("ingest", "chrome", source, str(day))

    def counted_key(self, source: str, day: int, fingerprints: Iterable[str]) -> str:
        digest = hashlib.blake2b(" ".join(sorted(fingerprints)).encode("ascii"), digest_size=12).hexdigest()
        return self.keys("ingest", "chrome-text", source, str(day), digest)

    async def snapshot(self, source: str, lines: Iterable[str]) -> set[str]:
        """Fingerprints among ``lines`` that are the source's chrome, in one round trip."""
        fingerprints = _fingerprints(lines)
        if not fingerprints:
            return set()
        days = range(self._today() - self.window_days + 1, self._today() + 1)
        async with self.client.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hmget(self.bucket_key(source, day), fingerprints)
            for day in days:
                pipe.exists(self.counted_key(source, day, fingerprints))
            replies = await pipe.execute()
        counts = [sum(int(bucket[i] or 0) for bucket in replies[:len(days)]) for i in range(len(fingerprints))]
        # Counted already (a redelivery): its own count is in the sums; else it will be, once learnt.
        own = 0 if any(replies[len(days):]) else 1
        return {fp for fp, count in zip(fingerprints, counts, strict=True) if count + own >= self.min_articles}

    async def learn(self, source: str, article_id: str, lines: Iterable[str]) -> bool:
        """Count each distinct fingerprint of this text once; False when the text was counted already."""
        fingerprints = _fingerprints(lines)
        if not fingerprints:
            return False
        today = self._today()
        # Everything of this day goes when the day leaves the window (EXPIREAT: no drift on redelivery).
        leaves_window = (today + self.window_days) * DAY
        async with self.client.pipeline(transaction=False) as pipe:
            for day in range(today - self.window_days + 1, today):
                pipe.exists(self.counted_key(source, day, fingerprints))
            pipe.set(self.counted_key(source, today, fingerprints), article_id, nx=True, exat=leaves_window)
            *earlier, claimed = await pipe.execute()
        if any(earlier) or not claimed:
            return False
        bucket = self.bucket_key(source, today)
        async with self.client.pipeline(transaction=True) as pipe:
            for fp in fingerprints:
                pipe.hincrby(bucket, fp, 1)
            pipe.expireat(bucket, leaves_window)
            await pipe.execute()
        return True


def _fingerprints(lines: Iterable[str]) -> list[str]:
    """Distinct fingerprints in first-seen order, without punctuation-only lines."""
    return [fp for fp in dict.fromkeys(line_fingerprint(line) for line in lines if line.strip()) if fp != _EMPTY]
