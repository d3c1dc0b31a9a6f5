"""The events stage's Redis state on a real valkey-server: idempotence, merges, dormancy, trends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.common.arabic import normalize_for_matching
from services.common.clock import iso
from services.common.embedded import EmbeddedRedis
from services.common.redis_store import Keys, connect_async
from services.events.features import article_features
from services.events.store import Assignment, EventStore

pytestmark = pytest.mark.integration
HOUR = 3600.0
T0 = 1_800_000_000.0

FLOOD = ("سيول جارفة تضرب مدينة صحار وفرق الدفاع المدني تنقذ عشرات العالقين في الأودية بعد أمطار غزيرة "
         "استمرت ست ساعات متواصلة على ولاية صحار في شمال الباطنة")
MATCH = ("انطلقت في ملعب المدينة الأولمبي المباراة النهائية لكأس الأندية بين فريق الهضاب وفريق الساحل "
         "وسط حضور جماهيري كبير وتنظيم محكم من الاتحاد القاري لكرة القدم")


def entity(kind: str, name: str, suffix: str) -> dict[str, Any]:
    return {"type": kind, "canonical_id": f"{kind}:{suffix * 16}"[:21], "canonical_name": name,
            "surface_forms": [name], "mentions": [{"start": 0, "end": len(name), "text": name, "in_title": False}],
            "count": 2, "salience": 1.0}


def article(article_id: str, text: str, at: float, entities: list[dict[str, Any]], source: str = "outlet",
            duplicate_of: str | None = None) -> dict[str, Any]:
    return {"schema_version": 1, "article_id": article_id, "doc_id": article_id, "source": source,
            "source_path": f"{article_id}.txt", "url": None, "title": text[:40], "text": text, "lead": text,
            "normalized_text": normalize_for_matching(text), "language": "ar", "published_at": iso_at(at), "received_at": iso_at(at),
            "cleaned_at": iso(), "content_hash": "0" * 32, "duplicate_of": duplicate_of, "entities": entities,
            "ner_model": "test", "enriched_at": iso()}


def iso_at(epoch: float) -> str:
    from datetime import UTC, datetime

    return iso(datetime.fromtimestamp(epoch, UTC))


SOHAR = entity("LOC", "صحار", "a")
HIDAB = entity("ORG", "الهضاب", "b")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = EmbeddedRedis(tmp_path).start()
    yield server.url
    server.stop()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[EventStore]:
    client = connect_async(redis_url)
    yield EventStore(client, Keys("t:"), threshold=0.25)
    await client.aclose()


async def assign(store: EventStore, item: dict[str, Any]) -> Assignment:
    return await store.assign(item, article_features(item))


async def test_same_story_joins_other_story_opens_and_redelivery_changes_nothing(store: EventStore) -> None:
    first = await assign(store, article("a1", FLOOD, T0, [SOHAR]))
    second = await assign(store, article("a2", FLOOD + " وتعليق الدراسة", T0 + HOUR, [SOHAR], source="other"))
    other = await assign(store, article("a3", MATCH, T0 + 2 * HOUR, [HIDAB]))
    assert first.created and not second.created and second.event_id == first.event_id
    assert other.created and other.event_id != first.event_id
    update = second.updates[-1][1]
    assert update["article_count"] == 2 and update["version"] == 2 and update["sources"] == ["other", "outlet"]
    again = await assign(store, article("a2", FLOOD + " وتعليق الدراسة", T0 + HOUR, [SOHAR], source="other"))
    assert again.repeated and again.updates[-1][1]["version"] == 2 and again.updates[-1][1]["article_count"] == 2


async def test_a_republication_joins_its_original_as_syndication(store: EventStore) -> None:
    original = await assign(store, article("o1", FLOOD, T0, [SOHAR]))
    copy = await assign(store, article("c1", FLOOD + " (وكالات)", T0 + 60, [SOHAR], source="copycat",
                                       duplicate_of="o1"))
    assert copy.event_id == original.event_id
    assert copy.updates[-1][1]["syndicated_count"] == 1
    # A "copy" that does not read like the original's event (its text was mostly the site's chrome)
    # is not trusted: it goes its own way.
    unrelated = await assign(store, article("c2", MATCH, T0 + 120, [HIDAB], source="copycat", duplicate_of="o1"))
    assert unrelated.event_id != original.event_id


async def test_quiet_events_go_dormant_and_leave_hot_state(store: EventStore) -> None:
    old = await assign(store, article("d1", FLOOD, T0, [SOHAR]))
    await assign(store, article("d2", MATCH, T0 + 100 * HOUR, [HIDAB]))  # moves the stream clock on
    retired = (await store.retire_dormant(72 * HOUR))
    assert [(event_id, update["status"]) for event_id, update in retired] == [(old.event_id, "dormant")]
    assert (await store.active_count()) == 1
    client = store.client
    assert not (await client.zscore(store.keys("ev", "idx", "e", SOHAR["canonical_id"]), old.event_id))
    assert (await client.ttl(store.keys("ev", "event", old.event_id))) > 0
    later = await assign(store, article("d3", FLOOD, T0 + 101 * HOUR, [SOHAR]))
    assert later.created and later.event_id != old.event_id
    assert (await store.retire_dormant(72 * HOUR)) == []


async def test_trend_snapshot_counts_mentions_in_stream_time(store: EventStore) -> None:
    for index in range(3):
        await assign(store, article(f"t{index}", FLOOD, T0 + index * 60, [SOHAR]))
    snapshot = (await store.trend_snapshot())
    assert snapshot is not None
    top = snapshot["entities"][0]
    assert top["canonical_id"] == SOHAR["canonical_id"] and top["name"] == "صحار"
    assert top["counts"] == {"15m": 6, "1h": 6, "24h": 6}


async def test_an_article_that_bridges_two_events_merges_them(store: EventStore) -> None:
    half_a = FLOOD
    # The school closure shares too little with the flood report to join it alone (below the
    # threshold), but enough that an article telling both shows they are one story.
    half_b = ("وأعلنت وزارة التربية تعليق الدراسة في مدارس ولاية صحار يومين بعد السيول الجارفة التي ضربت "
              "المدينة وتضرر الطرق المؤدية إلى المدارس وفق بيان رسمي صدر مساء اليوم")
    first = await assign(store, article("m1", half_a, T0, [SOHAR]))
    second = await assign(store, article("m2", half_b, T0 + 60, [entity("ORG", "وزارة التربية", "c")]))
    assert second.event_id != first.event_id
    bridge = await assign(store, article("m3", half_a + "\n" + half_b, T0 + 120,
                                   [SOHAR, entity("ORG", "وزارة التربية", "c")]))
    statuses = {event_id: update["status"] for event_id, update in bridge.updates}
    assert "merged" in statuses.values()
    survivor = bridge.updates[-1][1]
    assert survivor["event_id"] == first.event_id  # the older event survives
    assert survivor["article_count"] == 3
    merged = next(update for _, update in bridge.updates if update["status"] == "merged")
    assert merged["merged_into"] == first.event_id


async def _state(client: Any) -> dict[str, Any]:
    """Everything the store keeps in Redis, member lists as sets (their order is not part of the state)."""
    state: dict[str, Any] = {}
    for key in sorted(await client.keys("t:*")):
        kind = await client.type(key)
        if kind == "string":
            state[key] = await client.get(key)
        elif kind == "hash":
            state[key] = await client.hgetall(key)
        elif kind == "zset":
            state[key] = await client.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            state[key] = sorted(await client.lrange(key, 0, -1))
    return state


def _stream() -> list[dict[str, Any]]:
    """Articles whose outcome depends on the ones before: joins, a copy, a merge, a redelivery."""
    school = ("وأعلنت وزارة التربية تعليق الدراسة في مدارس ولاية صحار يومين بعد السيول الجارفة التي ضربت "
              "المدينة وتضرر الطرق المؤدية إلى المدارس وفق بيان رسمي صدر مساء اليوم")
    ministry = entity("ORG", "وزارة التربية", "c")
    return [
        article("s1", FLOOD, T0, [SOHAR]),
        article("s2", MATCH, T0 + 30, [HIDAB]),
        article("s3", school, T0 + 60, [ministry]),
        article("s4", FLOOD + " وتواصل فرق الإنقاذ البحث عن مفقودين", T0 + 90, [SOHAR], source="other"),
        article("s5", FLOOD, T0 + 100, [SOHAR], source="copier", duplicate_of="s1"),
        article("s6", FLOOD + "\n" + school, T0 + 120, [SOHAR, ministry]),
        article("s2", MATCH, T0 + 30, [HIDAB]),  # redelivered
        article("s7", school + " وستستأنف الدراسة الأسبوع المقبل", T0 + 150, [ministry], source="other"),
        article("s8", MATCH + " وفاز فريق الهضاب بهدفين", T0 + 180, [HIDAB], source="other"),
    ]


@pytest.mark.parametrize("size", [2, 4, 9])
async def test_batches_give_what_one_article_at_a_time_gives(tmp_path: Path, size: int) -> None:
    outcomes = []
    for batch in (1, size):
        server = EmbeddedRedis(tmp_path / f"batch-{batch}").start()
        client = connect_async(server.url)
        try:
            store = EventStore(client, Keys("t:"), threshold=0.25)
            stream = _stream()
            assignments = []
            for start in range(0, len(stream), batch):
                chunk = stream[start:start + batch]
                assignments += await store.assign_batch([(item, article_features(item)) for item in chunk])
            outcomes.append(([(a.event_id, a.created, a.merged, a.repeated,
                               [(event_id, u["version"], u["status"], u["article_count"]) for event_id, u in a.updates])
                              for a in assignments], await _state(client)))
        finally:
            await client.aclose()
            server.stop()
    (one_at_a_time, state), (batched, batched_state) = outcomes
    assert batched == one_at_a_time
    assert batched_state == state
    # The stream does what it is meant to: a merge, a syndicated copy, a redelivery.
    assert sum(merged for _, _, merged, _, _ in one_at_a_time) == 1
    assert one_at_a_time[4][0] == one_at_a_time[0][0] and one_at_a_time[6][3]
