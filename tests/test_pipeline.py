"""The pure pipeline and its one timer queue: the same code in the runner, in training and in
replays; segment and scenario wake-ups in one queue, one stored row per record."""

from __future__ import annotations

from pathlib import Path

from conftest import HISTORY, T0, sqlite_engine, track
from intently import Engine, ManualClock
from intently.engine import MemoryState, Pipeline, replay
from intently.engine._timers import Timers
from intently.events import Vocabulary
from intently.profiles import RecordSettings, encode_profile
from intently.segments import Segment
from intently.store import MemoryStore
from intently.testing import Shop
from test_scenarios import identify, scenario

HOUR = 3600.0
DAY = 24 * HOUR


def test_a_replay_in_memory_makes_the_records_the_engine_makes() -> None:
    events = list(Shop(users=60, days=4, seed=8).events())
    engine = Engine(MemoryStore(), clock=ManualClock(T0), settings=HISTORY, intent_model=False)
    engine.process_many(events)
    replayed = {d.profile.id: d.profile for d in replay(events, HISTORY, clock=ManualClock(T0))}
    assert len(replayed) > 50
    for pid, p in replayed.items():
        stored = engine.peek(pid)
        assert stored is not None
        p.last_seq = stored.last_seq  # log positions: the replay keeps no log
        assert encode_profile(p) == encode_profile(stored)


def test_the_pipeline_runs_over_any_state() -> None:
    state = MemoryState()
    pipeline = Pipeline(state, Vocabulary(), RecordSettings())
    ev_state = [track("Product Viewed", user="ann", at=T0), track("Order Completed",
                                                                   user="ann", at=T0 + 60)]
    from intently.events import as_event

    for raw in ev_state:
        ev = as_event(raw)
        ev.received_at = ev.ts
        pipeline.apply(ev)
    (p,) = state.profiles.values()
    assert p.events == 2 and p.orders == 1 and state.lookup("u:ann") == p.id


def test_one_timer_per_record_for_segments_and_scenarios(tmp_path: Path) -> None:
    """A record waiting on a segment window and a scenario's wait has one timer, the earlier;
    both fire when due, and a restart in between changes nothing."""
    clock = ManualClock(T0)
    engine = sqlite_engine(tmp_path / "t.db", clock)
    engine.put_segment(Segment.from_text("carts", "did added_to_cart in 24h"))
    engine.put_scenario(scenario(name="nudge", trigger={"event": "added_to_cart"},
                                 steps=[{"wait": {"hours": 30}},
                                        {"send": {"channel": "email", "subject": "R",
                                                  "body": "x"}}]))
    engine.process(identify("ann"))
    engine.process(track("Product Added", user="ann", at=T0))
    engine.checkpoint()
    pid = engine.profile("ann").id
    assert engine.store.load_timers() == {pid: T0 + DAY}  # the window first, then the wait
    engine.close()

    engine = sqlite_engine(tmp_path / "t.db", clock)
    exits = engine.tick(T0 + DAY + 1)
    assert [(c.segment, c.entered) for c in exits] == [("carts", False)]
    engine.checkpoint()
    assert engine.store.load_timers() == {pid: T0 + 30 * HOUR}  # now the scenario's wait
    assert engine.read_models.outbox(10) == []
    engine.tick(T0 + 30 * HOUR)
    assert [m.scenario for m in engine.read_models.outbox(10)] == ["nudge"]
    engine.checkpoint()
    assert engine.store.load_timers() == {pid: T0 + 7 * DAY}  # the goal window closes
    engine.tick(T0 + 7 * DAY)
    engine.checkpoint()
    assert engine.store.load_timers() == {}
    engine.close()


def test_scenario_timers_stored_under_the_old_prefix_are_read_and_rewritten() -> None:
    timers = Timers({"sc:p1": 50.0, "p1": 70.0, "sc:p2": 90.0, "p3": 10.0})
    assert timers.due == {"p1": 50.0, "p2": 90.0, "p3": 10.0}
    assert timers.take_updates() == {"sc:p1": None, "sc:p2": None, "p1": 50.0, "p2": 90.0}
    assert timers.pop(60.0) == (10.0, "p3") and timers.pop(60.0) == (50.0, "p1")
    assert timers.pop(60.0) is None
    assert timers.take_updates() == {"p3": None, "p1": None}


def test_the_records_due_by_a_time_are_found_without_taking_them_off() -> None:
    timers = Timers({f"p{i}": float(i) for i in range(100)})
    for i in range(0, 100, 3):
        timers.set(f"p{i}", 1000.0 + i)  # moved later: their early entries stay queued
    found = timers.due_until(49.5)
    assert set(found) >= {f"p{i}" for i in range(50) if i % 3}
    assert set(found) <= {f"p{i}" for i in range(50)}
    assert len(timers.heap) == 100 and timers.pop(1.0) == (1.0, "p1")


def test_a_population_larger_than_the_cache_ends_as_if_everything_fit(tmp_path: Path) -> None:
    """Eviction, checkpoints forced by a full cache, a batch's look-ups and misses read in
    one go, and the records its timers wake read ahead: the records, segments and messages
    come out as when every record stays in memory."""
    from intently.scenarios import ready_made

    events = list(Shop(users=400, days=6, seed=12).events())
    outcomes = []
    for name, cache in (("all", 100_000), ("small", 25)):
        engine = sqlite_engine(tmp_path / f"{name}.db", builtin_segments=True,
                               cache_profiles=cache, batch_size=200)
        for s in ready_made().values():
            engine.put_scenario(s)
        engine.process_many(events)
        engine.tick(T0 + 30 * DAY)
        engine.checkpoint()
        records = {pid: encode_profile(engine.profile(pid))
                   for pid in engine.store.profile_ids(limit=10_000)}
        messages = sorted(m.id for m in engine.read_models.outbox(100_000))
        outcomes.append((records, messages, engine.read_models.segment_sizes()))
        if name == "small":
            assert engine.profiles_cached <= 25 * 4
        engine.close()
    (records, messages, sizes), (small_records, small_messages, small_sizes) = outcomes
    assert len(records) > 300 and len(messages) > 20 and sum(sizes.values()) > 0
    assert small_records == records
    assert small_messages == messages and small_sizes == sizes
