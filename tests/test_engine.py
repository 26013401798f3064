from __future__ import annotations

import time

import msgspec
import pytest

from conftest import HISTORY, T0, sqlite_engine, track
from intently import Engine, ManualClock, NotFound, ValidationError
from intently.engine import COMMIT_PARTS
from intently.store import MemoryStore
from intently.testing import Shop


def test_message_id_makes_ingestion_idempotent(engine: Engine) -> None:
    first = engine.process_many([track("Product Viewed", user="u", mid="m1"),
                                 track("Product Viewed", user="u", mid="m1"),
                                 track("Product Added", user="u", mid="m2")])
    assert (first.accepted, first.duplicates) == (2, 1)
    again = engine.process_many([track("Product Viewed", user="u", mid="m1")])
    assert (again.accepted, again.duplicates) == (0, 1)
    assert engine.process(track("Product Added", user="u", mid="m2")) is None
    assert engine.profile("u").events == 2
    assert engine.store.count_events() == 2


def test_group_commits_account_for_their_time_by_part(db_path) -> None:
    eng = sqlite_engine(db_path)
    assert eng.seconds_in == dict.fromkeys(COMMIT_PARTS, 0.0)
    started = time.perf_counter()
    eng.process_many([track("Product Viewed", user=f"u{i}", mid=f"m{i}") for i in range(50)])
    took = time.perf_counter() - started
    spent = eng.seconds_in
    assert list(spent) == list(COMMIT_PARTS)
    assert all(seconds >= 0 for seconds in spent.values())
    assert spent["pipeline"] > 0 and spent["commit"] > 0
    assert sum(spent.values()) <= took  # parts of the commit, not more than it took
    eng.close()


def test_duplicates_are_caught_after_a_restart(db_path) -> None:
    eng = sqlite_engine(db_path)
    eng.process(track("Product Viewed", user="u", mid="m1"))
    eng.close()
    eng = sqlite_engine(db_path)
    assert eng.process(track("Product Viewed", user="u", mid="m1")) is None
    assert eng.profile("u").events == 1
    eng.close()


def test_missing_message_ids_and_times_are_filled(engine: Engine, clock: ManualClock) -> None:
    clock.set(T0 + 42)
    done = engine.process({"event": "Product Viewed", "userId": "u"})
    assert done is not None
    assert done.event.message_id and done.event.ts == T0 + 42 == done.event.received_at


def test_a_bad_event_rejects_its_batch_and_keeps_nothing(engine: Engine) -> None:
    with pytest.raises(ValidationError) as info:
        engine.process_many([track("A", user="u"), {"event": "B"}])
    assert info.value.path == "$[1].userId"
    assert engine.store.count_events() == 0
    with pytest.raises(NotFound):
        engine.profile("u")


def test_oversized_events_are_refused_and_state_rolls_back(engine: Engine) -> None:
    engine.process(track("Product Viewed", user="u", mid="ok"))
    with pytest.raises(ValidationError, match="over the"):
        engine.process_many([track("Product Viewed", user="u", mid="ok2"),
                             track("Big", user="u", blob="x" * 40_000)])
    assert engine.profile("u").events == 1  # the half-applied batch is gone from memory too
    assert engine.store.count_events() == 1


def _state(engine: Engine) -> dict:
    return {p.id: msgspec.to_builtins(p.to_dict()) for p in engine.hot_profiles()}


def test_recovery_replays_the_log_after_the_last_checkpoint(db_path) -> None:
    events = list(Shop(users=60, days=10, seed=3).events())
    reference = Engine(MemoryStore(), clock=ManualClock(T0), settings=HISTORY)
    reference.process_many(events)

    eng = sqlite_engine(db_path, checkpoint_events=10**9, checkpoint_seconds=10**9,
                        batch_size=50)
    eng.process_many(events[: len(events) // 2])
    eng.checkpoint()
    eng.process_many(events[len(events) // 2 :])
    eng.store.close()  # a crash: no final checkpoint, memory lost

    again = sqlite_engine(db_path)
    assert again.recovered == len(events) - len(events) // 2
    for pid, expected in _state(reference).items():
        got = again.profile(pid).to_dict()
        assert msgspec.to_builtins(got) == expected, pid
    again.close()


def test_a_cold_start_loads_records_from_the_store(db_path) -> None:
    eng = sqlite_engine(db_path, cache_profiles=10)
    eng.process_many(list(Shop(users=40, days=5, seed=5).events()))
    eng.checkpoint()
    assert eng.profiles_cached <= 10
    n_stored = eng.store.count_profiles()
    eng.close()
    again = sqlite_engine(db_path)
    assert again.recovered == 0 and again.store.count_profiles() == n_stored
    some = again.store.profile_ids(limit=3)
    assert all(again.profile(pid).events > 0 for pid in some)
    again.close()


def test_a_second_writer_gets_a_clear_error(db_path) -> None:
    from intently import StoreError

    eng = sqlite_engine(db_path)
    with pytest.raises(StoreError, match="another Intently process"):
        sqlite_engine(db_path)
    readonly = Engine(db_path, readonly=True)
    assert readonly.recovered == 0
    readonly.close()
    eng.close()


def test_listeners_see_each_processed_event(engine: Engine) -> None:
    seen: list[tuple[str, tuple[str, ...]]] = []
    engine.listeners.append(lambda done: seen.extend((d.profile.id, d.signals) for d in done))
    engine.process_many([track("Product Viewed", user="u"), track("Order Completed", user="u")])
    assert seen == [("u", ("viewed_product",)), ("u", ("purchased",))]
