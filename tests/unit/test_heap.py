"""Worker garbage-collector settings (services/common/heap.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from services.common import heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settle_freezes_the_start_up_heap_and_collects_young_objects_less_often(restored_gc: None) -> None:
    survivors = [{"n": n} for n in range(1000)]  # long-lived objects a worker builds while starting
    heap.settle()
    assert gc.get_freeze_count() >= len(survivors)
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
