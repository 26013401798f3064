"""A batch in which many timers fall due is committed in parts (`wakes_per_commit`), in the
same order: the timers do the same, the commits are smaller, and the batch is still checked
whole before any part commits."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from conftest import T0
from intently import Engine, ManualClock, Settings
from intently._errors import PayloadTooLarge
from intently.engine import IngestResult
from intently.events import decode_batch
from intently.scenarios import Scenario
from intently.store import MemoryStore, SQLiteStore

HOUR = 3600.0
LATE = 1_790_031_600.0  # 2026-09-21T23:00:00Z = 01:00 in Oslo
MORNING = LATE + 7 * HOUR  # 08:00 in Oslo: quiet hours end
HELD = 120  # customers whose email waits for the morning


def _event(kind: str, mid: str, user: str, at: float, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "messageId": mid, "userId": user, "timestamp": at, **fields}


def _night() -> list[dict[str, Any]]:
    """Customers in Oslo view a product at 01:00: their emails are held for the morning."""
    events = []
    for i in range(HELD):
        events.append(_event("identify", f"id-{i}", f"c{i}", LATE, traits={
            "email": f"c{i}@example.com", "timezone": "Europe/Oslo",
            "consents": {"email": True}}))
        events.append(_event("track", f"pv-{i}", f"c{i}", LATE, event="Product Viewed"))
    return events


def _morning() -> list[dict[str, Any]]:
    """One batch of other customers' page views from 07:50 to 08:30 (the held sends fall due
    inside it), with a duplicate near its end."""
    events = [_event("track", f"m-{i}", f"m{i}", MORNING - 600 + 20 * i, event="Page Viewed")
              for i in range(120)]
    events.insert(100, dict(events[5]))  # sent twice: the second is a duplicate
    return events


def _engine(store: Any, wakes: int) -> tuple[Engine, list[int]]:
    """An engine with the held-email scenario, its night's events in; the list gets the
    messages each of its later commits writes."""
    settings = Settings(future_tolerance_seconds=float("inf"), wakes_per_commit=wakes,
                        batch_size=10_000)
    engine = Engine(store, settings=settings, clock=ManualClock(T0))
    engine.put_scenario(Scenario.from_dict({
        "name": "held", "trigger": {"event": "Product Viewed"}, "holdout": 0,
        "policies": {"quiet_hours": [21, 8]},
        "steps": [{"send": {"channel": "email", "subject": "Hi", "body": "Hello"}}]}))
    engine.process_many(_night())
    messages: list[int] = []
    begin = engine.store.transaction

    def counted() -> Any:
        tx = begin()
        put_effects = tx.put_effects

        def put(outbox: Any, journal: Any, chain: Any = None) -> dict[str, int]:
            messages[-1] += len(outbox)
            return put_effects(outbox, journal, chain)

        tx.put_effects = put  # type: ignore[method-assign,assignment]
        messages.append(0)
        return tx

    engine.store.transaction = counted  # type: ignore[method-assign]
    return engine, messages


def _effects(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    outbox = sorted((r[0], r[2], r[5]) for r in engine.store.outbox(1000))
    journal = sorted((r[0], r[1], r[2], r[4], r[5]) for r in engine.store.journal(limit=1000))
    return outbox, journal


def _outcome(result: IngestResult) -> tuple[int, int, set[int], int, int]:
    return (result.accepted, result.duplicates, result.duplicate_at,
            result.last_seq - result.first_seq, len(result.processed))


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_burst_of_timers_is_committed_in_parts_with_the_same_effects(
        kind: str, tmp_path: Any) -> None:
    def store(name: str) -> Any:
        return MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / f"{name}.db")

    whole, whole_commits = _engine(store("whole"), 2_000)
    parts, parts_commits = _engine(store("parts"), 25)
    assert whole.pipeline.wakes == parts.pipeline.wakes == 0
    assert _effects(whole) == _effects(parts)
    morning: list[Any] = _morning()
    if kind == "sqlite":  # as the HTTP route gives them: JSON, stored as received
        morning = [msgspec.json.encode(ev) for ev in morning]
    outcomes = [_outcome(e.commit_batch(*decode_batch(morning, 0), keep=True))
                for e in (whole, parts)]
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1:3] == (1, {100})  # the duplicate's index is the batch's, not a part's
    assert whole.pipeline.wakes == parts.pipeline.wakes == HELD
    outbox, journal = _effects(parts)
    assert _effects(whole) == (outbox, journal)
    assert len(outbox) == HELD
    assert all(MORNING <= due < MORNING + 900 for _, _, due in outbox)
    assert whole.events_stored() == parts.events_stored() == 2 * HELD + 120
    logged = [[(ev.message_id, ev.ts, ev.event) for ev in e.logged()] for e in (whole, parts)]
    assert logged[0] == logged[1]

    assert whole_commits == [HELD]  # the batch and its burst in one commit
    assert max(parts_commits) <= 25 and sum(parts_commits) == HELD
    assert len(parts_commits) >= 1 + HELD // 25
    for engine in (whole, parts):
        engine.close()


def test_a_split_batch_is_checked_whole_before_any_part_commits() -> None:
    engine, commits = _engine(MemoryStore(), 25)
    stored, before = engine.events_stored(), _effects(engine)
    batch = _morning()
    batch.append(_event("track", "big", "m1", MORNING + 3000, event="Page Viewed",
                        properties={"blob": "x" * 40_000}))  # over the 32 KiB limit
    with pytest.raises(PayloadTooLarge) as caught:
        engine.process_many(batch)
    assert caught.value.path == f"$[{len(batch) - 1}]"
    assert commits == [] and engine.pipeline.wakes == 0
    assert engine.events_stored() == stored and _effects(engine) == before


def test_a_time_claimed_too_far_ahead_fires_no_timer_ahead_of_the_clock() -> None:
    """Cuts are made on the times the events are filed at: an event dated hours ahead of the
    clock (filed at its receive time) does not fire the morning's held sends at night."""
    clock = ManualClock(LATE)
    engine = Engine(MemoryStore(), settings=Settings(wakes_per_commit=25), clock=clock)
    engine.put_scenario(Scenario.from_dict({
        "name": "held", "trigger": {"event": "Product Viewed"}, "holdout": 0,
        "policies": {"quiet_hours": [21, 8]},
        "steps": [{"send": {"channel": "email", "subject": "Hi", "body": "Hello"}}]}))
    engine.process_many(_night())
    clock.set(MORNING - 1200)  # 07:40
    engine.process_many([_event("track", "x", "m1", MORNING + 2 * HOUR, event="Page Viewed")])
    assert engine.pipeline.wakes == 0 and engine.store.outbox(1000) == []
    clock.set(MORNING + HOUR)
    engine.process_many([_event("track", "y", "m1", MORNING + HOUR, event="Page Viewed")])
    assert engine.pipeline.wakes == HELD and len(engine.store.outbox(1000)) == HELD
