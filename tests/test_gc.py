"""`Survivors`: what survives a commit is frozen out of the cycle collector's way, and cycles
among frozen objects are collected once they could matter (`intently._gc`). The clock is a
number the tests move; every test hands the frozen objects back to the collector."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import sqlite_engine, track
from intently import _gc
from intently._gc import CHECK_SECONDS, Survivors


class Node:
    """A cycle: the node holds itself."""

    def __init__(self) -> None:
        self.me = self


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """No automatic collection takes the tests' garbage before they freeze it."""
    gc.unfreeze()
    gc.disable()
    yield
    gc.enable()
    gc.unfreeze()


def _cycle_garbage(n: int) -> weakref.ref[Node]:
    """Drop `n` cycles; the reference tells whether the first is still held."""
    nodes = [Node() for _ in range(n)]
    first = weakref.ref(nodes[0])
    del nodes
    return first


def test_nothing_is_frozen_where_the_process_did_not_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_gc, "_tuned", False)
    survivors = Survivors()
    survivors.freeze(10_000)
    assert not survivors.enabled
    assert gc.get_freeze_count() == 0


def test_tune_gc_turns_freezing_on_for_the_engines_made_after(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_gc, "_tuned", False)
    thresholds = gc.get_threshold()
    try:
        _gc.tune_gc()
        assert Survivors().enabled
    finally:
        gc.set_threshold(*thresholds)


def test_frozen_cycles_wait_and_are_collected_once_they_double_the_heap() -> None:
    clock = Clock()
    survivors = Survivors(enabled=True, clock=clock)
    clock.now += CHECK_SECONDS
    survivors.freeze(10_000)  # counts: the fewest frozen objects a record so far
    frozen = gc.get_freeze_count()
    assert frozen > 0

    held = _cycle_garbage(1)
    survivors.freeze(10_000)  # not yet time to count
    gc.collect()
    assert held() is not None, "a frozen cycle waits for a full collection"

    clock.now += CHECK_SECONDS
    survivors.freeze(10_000)  # one cycle more: far from twice as many
    assert held() is not None and survivors.full_collections == 0

    _cycle_garbage(frozen + 1)  # twice the objects now, as many records
    clock.now += CHECK_SECONDS
    survivors.freeze(10_000)
    assert survivors.full_collections == 1
    assert held() is None
    assert gc.get_freeze_count() < 1.5 * frozen, "what survived is frozen again"


def test_a_cache_that_fills_is_no_reason_to_collect() -> None:
    clock = Clock()
    survivors = Survivors(enabled=True, clock=clock)
    cache: list[list[object]] = []
    for records in (1_000, 5_000, 20_000, 50_000):
        cache.extend([[], {}] for _ in range(records - len(cache)))  # tracked, a record's parts
        clock.now += CHECK_SECONDS
        survivors.freeze(len(cache))
    assert survivors.full_collections == 0


def test_an_engine_freezes_after_its_commits_and_thaws_when_closed(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "e.db")
    engine.survivors = Survivors(enabled=True, clock=Clock())
    held = _cycle_garbage(1)
    engine.process_many([track("Product Viewed", user=f"u{i}") for i in range(5)])
    assert gc.get_freeze_count() > 0
    gc.collect()
    assert held() is not None
    engine.close()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert held() is None
