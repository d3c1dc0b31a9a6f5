"""Seen URLs and the near-duplicate index against a real valkey-server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from services.common.embedded import EmbeddedRedis
from services.common.redis_store import Keys
from services.ingest.dedup import SeenUrls
from services.ingest.near_duplicates import NearDuplicateIndex
from services.ingest.urls import canonical_url
from tests.unit.test_near_duplicates import AGENCY, CABLE_CHAD, CABLE_SINGAPORE, OTHER_STORY, REPUBLISHED

pytestmark = pytest.mark.integration

DAY = 86400


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}:"


@pytest.fixture
async def index(redis_server: EmbeddedRedis, prefix: str) -> AsyncIterator[NearDuplicateIndex]:
    near = NearDuplicateIndex(redis_server.url, prefix, threshold=0.6, num_perm=128, ttl_seconds=3 * DAY)
    yield near
    await near.aclose()


# --- seen URLs ---------------------------------------------------------------------------------


async def test_first_writer_wins_and_a_redelivery_finds_itself(client, prefix: str) -> None:  # type: ignore[no-untyped-def]
    seen = SeenUrls(client, Keys(prefix), ttl_seconds=DAY)
    url = canonical_url("https://example.com/news/1?utm_source=x")
    assert await seen.first_article_for_url(url, "a1") == "a1"
    assert await seen.first_article_for_url(canonical_url("https://EXAMPLE.com/news/1/#top"), "a2") == "a1"
    assert await seen.first_article_for_url(url, "a1") == "a1"  # redelivered: still the original
    assert await seen.first_article_for_url(canonical_url("https://example.com/news/2"), "a3") == "a3"


async def test_seen_urls_expire(client, prefix: str) -> None:  # type: ignore[no-untyped-def]
    seen = SeenUrls(client, Keys(prefix), ttl_seconds=DAY)
    await seen.first_article_for_url("https://example.com/x", "a1")
    assert 0 < await client.ttl(seen.key("https://example.com/x")) <= DAY
    with pytest.raises(ValueError):
        SeenUrls(client, Keys(prefix), ttl_seconds=0)


# --- near duplicates ---------------------------------------------------------------------------


async def test_a_republication_points_at_the_first_copy(index: NearDuplicateIndex) -> None:
    for article_id, text in [("spa-1", AGENCY), ("other", OTHER_STORY), ("copy-1", REPUBLISHED)]:
        signature = index.signature(text)
        original = await index.find_original(article_id, signature)
        await index.add(article_id, signature)
        assert original == ("spa-1" if article_id == "copy-1" else None)
    # A third copy still points at the earliest article, not at the copy before it.
    assert await index.find_original("copy-2", REPUBLISHED) == "spa-1"


async def test_different_stories_and_templates_are_not_duplicates(index: NearDuplicateIndex) -> None:
    await index.add("cable-sg", index.signature(CABLE_SINGAPORE))
    assert await index.find_original("cable-td", CABLE_CHAD) is None
    assert await index.find_original("other", OTHER_STORY) is None


async def test_redelivery_reports_the_same_original_never_a_later_copy(index: NearDuplicateIndex) -> None:
    signature = index.signature(AGENCY)
    assert await index.find_original("first", signature) is None
    await index.add("first", signature)
    await index.add("later", index.signature(REPUBLISHED))
    # "first" comes again: "later" is similar but was indexed after it.
    assert await index.find_original("first", signature) is None
    await index.add("first", signature)  # adding again keeps its first-seen place
    assert await index.find_original("later", REPUBLISHED) == "first"
    assert await index.find_original("later", REPUBLISHED) == "first"


async def test_ties_go_to_the_first_seen(index: NearDuplicateIndex) -> None:
    signature = index.signature(AGENCY)
    for article_id in ["z-first", "a-second", "m-third"]:  # ids sort the other way round
        await index.add(article_id, signature)
    assert await index.find_original("new", AGENCY) == "z-first"
    assert await index.find_original("m-third", AGENCY) == "z-first"
    assert await index.find_original("z-first", AGENCY) is None


async def test_empty_texts_match_nothing(index: NearDuplicateIndex) -> None:
    await index.add("empty-1", index.signature(""))
    assert await index.find_original("empty-2", "  ") is None


async def test_every_key_expires(index: NearDuplicateIndex, client, prefix: str) -> None:  # type: ignore[no-untyped-def]
    await index.add("a", index.signature(AGENCY))
    await index.add("b", index.signature(OTHER_STORY))
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    assert len(keys) == 2 + 2 * index.bands + 1  # two signatures, their bands, the sequence counter
    for key in keys:
        ttl = await client.ttl(key)
        if key == prefix + "nd:seq":
            continue  # one integer: first-seen order must survive its articles
        assert 0 < ttl <= 3 * DAY, key


async def test_old_members_leave_a_shared_band(redis_server: EmbeddedRedis, prefix: str, client) -> None:  # type: ignore[no-untyped-def]
    now = [1_000_000.0]
    index = NearDuplicateIndex(redis_server.url, prefix, ttl_seconds=DAY, client=client, clock=lambda: now[0])
    await index.add("old", index.signature(AGENCY))
    now[0] += 2 * DAY  # "old"'s signature would have expired by now; pretend its band key did not
    await client.delete(index.signature_key("old"))
    assert await index.find_original("new", AGENCY) is None
    await index.add("new", index.signature(AGENCY))
    band = index.band_keys(index.signature(AGENCY))[0]
    assert await client.zrange(band, 0, -1) == ["new"]
