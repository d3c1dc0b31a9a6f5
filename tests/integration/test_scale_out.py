"""Three instances of every worker on six partitions; one of each SIGKILLed mid-run and restarted.

The small version of ``tests/bench/scale_out.py`` (which measures 1, 2 and 3 instances on 5,000
articles): 300 SaudiNewsNet articles, about two minutes here. Nothing may be lost, no article may be
counted in two events or twice in the document frequencies, and the survivors must take over the
killed instances' partitions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.pipeline import STAGES
from tests.bench.scale_out import ASSIGNOR_PARTITIONS, run_scale, saudinewsnet_articles
from tests.conftest import shared_path

pytestmark = pytest.mark.integration
ARTICLES = 300
PARTITIONS = 6
INSTANCES = 3


def test_three_instances_per_stage_survive_losing_one_each_with_nothing_lost_or_counted_twice(
        tmp_path: Path) -> None:
    shared_path("corpus", "saudinewsnet")
    articles = saudinewsnet_articles(shared_path(), ARTICLES)
    assert articles is not None and len(articles) == ARTICLES

    result = run_scale(articles, INSTANCES, partitions=PARTITIONS, home=tmp_path, kill=True, log=lambda _: None)

    kill = result.kill
    assert kill is not None
    assert 0 < kill.done_at_kill < ARTICLES, "the kill must land mid-run; use more articles"
    # Nothing lost: every article left the pipeline. Besides events, the only outcomes are the ones
    # the content decides (ingest refuses empty SaudiNewsNet bodies and skips non-Arabic ones),
    # never a dead letter caused by the kill.
    assert sum(result.outcomes.values()) == ARTICLES
    assert set(result.outcomes) <= {"event", "skipped", "dead-letter:ingest:processing"}, result.outcomes
    assert result.outcomes["event"] >= ARTICLES * 0.9, result.outcomes
    # Nothing counted twice: each article is a member of exactly one event, and counted once per day.
    assert result.counted_twice == [], "articles counted in two events"
    assert result.not_in_any_event == []
    assert result.df_documents == result.outcomes["event"]

    owned = PARTITIONS + ASSIGNOR_PARTITIONS
    for stage in STAGES:
        before, after, restarted = kill.before[stage], kill.after_kill[stage], kill.after_restart[stage]
        assert len(before) == INSTANCES and all(n >= 1 for n in before.values()), (stage, before)
        assert sum(before.values()) == owned, (stage, before)
        # The survivors own all of them between kill and restart.
        assert kill.killed_ports[stage] not in after
        assert len(after) == INSTANCES - 1 and sum(after.values()) == owned, (stage, after)
        assert any(after[port] > before[port] for port in after), f"{stage}: no survivor took over: {before} -> {after}"
        # And the restarted instance gets a share again.
        assert len(restarted) == INSTANCES and all(n >= 1 for n in restarted.values()), (stage, restarted)
        assert sum(restarted.values()) == owned, (stage, restarted)
