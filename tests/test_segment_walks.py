"""A walk through every record (a segment added or removed, a scenario replaced, the analytics
jobs) runs a page at a time, and the engine's worker commits the events waiting between pages:
a segment added to a store of a million customers must not hold ingest back for its seconds,
nor miss a record that an event brought into the cache while the walk ran."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from conftest import T0, fail_next_commit, sqlite_engine, track
from intently import ManualClock, StoreError
from intently.engine import EngineWorker, IngestResult, _runner
from intently.events import Event, decode_batch
from intently.segments import Segment

WAIT_S = 10.0
DAY = 86_400.0
CUSTOMERS = 600
BIG = Segment.from_text("big spenders", "revenue >= 100")


def _events(*calls: dict[str, object]) -> list[Event]:
    return decode_batch(list(calls), 0)[0]


@pytest.fixture
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EngineWorker]:
    """A reopened store of `CUSTOMERS` buyers who viewed a product once (nothing cached),
    walked 50 records a page."""
    engine = sqlite_engine(tmp_path / "x.db")
    engine.process_many([track("Order Completed", user=f"u{i:03}", at=T0 + i, revenue=500)
                         for i in range(CUSTOMERS)])
    engine.process_many([track("Product Viewed", user=f"u{i:03}", at=T0 + 1_000 + i)
                         for i in range(CUSTOMERS)])
    engine.close()
    monkeypatch.setattr(_runner, "WALK_PAGE", 50)
    worker = EngineWorker(sqlite_engine(tmp_path / "x.db")).start()
    yield worker
    worker.stop()


def _held(worker: EngineWorker) -> threading.Event:
    """Hold the worker in a call until the returned event is set: what is submitted meanwhile
    queues up behind it, in order."""
    gate, holding = threading.Event(), threading.Event()

    def hold(_: object) -> None:
        holding.set()
        gate.wait(WAIT_S)

    worker.call(hold)
    assert holding.wait(WAIT_S)
    return gate


def test_events_waiting_behind_a_new_segment_are_committed_while_it_walks_the_records(
        worker: EngineWorker) -> None:
    gate = _held(worker)
    engine = worker.engine
    members_then: list[int] = []  # the segment's stored members as each batch commits
    engine.listeners.append(
        lambda _: members_then.append(len(engine.store.segment_members(BIG.name))))
    put = worker.call(lambda e: (len(e.put_segment(BIG)), worker.let_through))
    last = f"u{CUSTOMERS - 1:03}"  # its page comes last: an event brings it into the cache first
    answers: list[Future[IngestResult]] = [
        worker.submit(_events(track("Product Viewed", user=last, at=T0 + 10_000))),
        worker.submit(_events(track("Order Completed", user="new", at=T0 + 10_001,
                                    revenue=500)))]
    gate.set()
    entered, let_through = put.result(WAIT_S)
    assert let_through >= 1  # the events did not wait for the walk's end
    assert all(a.result(WAIT_S).accepted == 1 for a in answers)
    assert entered == CUSTOMERS  # the new buyer entered on its event, not by the walk
    assert members_then[0] > 0  # the walk's changes so far went with the first batch let in

    def members(e: object) -> tuple[tuple[str, ...], int]:
        e.checkpoint()  # type: ignore[attr-defined]
        return (e.profile(last).segments,  # type: ignore[attr-defined]
                len(e.store.segment_members(BIG.name)))  # type: ignore[attr-defined]

    segments, size = worker.call(members).result(WAIT_S)
    assert segments == (BIG.name,)  # evaluated from the cache, where the event left it
    assert size == CUSTOMERS + 1


def test_a_windowed_segment_counts_the_log_up_to_its_start_and_what_came_since_once(
        worker: EngineWorker) -> None:
    """A new windowed condition is counted from the log; the events committed while the log
    is read count as they come, so the log is read only up to where it ended at the start."""
    gate = _held(worker)
    keen = Segment.from_text("keen", "did viewed_product at least 3 times in 7d")
    put = worker.call(lambda e: (e.put_segment(keen), worker.let_through)[1])
    answer = worker.submit(_events(track("Product Viewed", user="u000", at=T0 + 10_000)))
    gate.set()
    assert put.result(WAIT_S) >= 1 and answer.result(WAIT_S).accepted == 1

    def segments(e: object) -> tuple[str, ...]:
        return e.profile("u000").segments  # type: ignore[attr-defined,no-any-return]

    assert worker.call(segments).result(WAIT_S) == ()  # two views, each counted once
    worker.submit(_events(track("Product Viewed", user="u000", at=T0 + 10_001))).result(WAIT_S)
    assert worker.call(segments).result(WAIT_S) == ("keen",)


def test_events_behind_another_call_wait_for_it(worker: EngineWorker) -> None:
    """Only the events at the head of the queue pass a walk: those submitted after another
    call keep their place behind it."""
    gate = _held(worker)
    walk = worker.call(lambda e: (e.put_segment(BIG), worker.let_through)[1])
    later = worker.call(lambda e: worker.let_through)
    answer = worker.submit(_events(track("Product Viewed", user="u000", at=T0 + 10_000)))
    gate.set()
    assert (walk.result(WAIT_S), later.result(WAIT_S)) == (0, 0)
    assert answer.result(WAIT_S).accepted == 1


def test_a_batch_failing_between_pages_stops_the_walk_and_the_engine_goes_on(
        worker: EngineWorker, monkeypatch: pytest.MonkeyPatch) -> None:
    """The failed batch sends the engine back to its last checkpoint, which may drop what the
    walk changed so far: the walk stops with the error rather than go on from a cache that
    lost it."""
    gate = _held(worker)
    worker.call(lambda e: fail_next_commit(e.store, monkeypatch))
    put = worker.call(lambda e: e.put_segment(Segment.from_text("whales", "revenue >= 1000")))
    failed = worker.submit(_events(track("Product Viewed", user="u000", at=T0 + 10_000)))
    gate.set()
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        failed.result(WAIT_S)
    with pytest.raises(StoreError, match="the walk stopped"):
        put.result(WAIT_S)
    again = worker.submit(_events(track("Product Viewed", user="u000", at=T0 + 10_001)))
    assert again.result(WAIT_S).accepted == 1 and worker.alive


def test_the_log_of_a_record_merged_away_counts_for_the_record_it_joined(tmp_path: Path) -> None:
    """A windowed condition counted from the log reads each page's records once: the events
    logged under a record that was merged into another count for that one, the same record
    object as its own events (a reopened store: neither is cached)."""
    engine = sqlite_engine(tmp_path / "x.db")
    engine.process(track("Product Viewed", user="u1", at=T0 - 3600))
    engine.process(track("Product Viewed", anon="device-1", at=T0))
    engine.process({"type": "identify", "userId": "u1", "anonymousId": "device-1",
                    "timestamp": T0 + 120})
    engine.close()
    engine = sqlite_engine(tmp_path / "x.db")
    engine.put_segment(Segment.from_text("twice", "did viewed_product at least 2 times in 7d"))
    assert engine.profile("u1").segments == ("twice",)
    engine.close()


def test_the_log_is_counted_at_the_times_its_events_were_filed(tmp_path: Path) -> None:
    """An event that claimed a future date was filed at its receipt: a segment added later
    counts it there, as a segment in place then did (the payload keeps the claimed date)."""
    clock = ManualClock(T0)
    engine = sqlite_engine(tmp_path / "x.db", clock, future_tolerance_seconds=60)
    engine.process(track("Product Viewed", user="ann", at=T0 + 10 * DAY))  # filed at T0
    clock.advance(8 * DAY)
    # the cart's 30 days make the count read the log from before T0
    engine.put_segment(Segment.from_text(
        "recent", "did viewed_product in 7d or did added_to_cart in 30d"))
    assert engine.profile("ann").segments == ()  # viewed eight days ago, not two days ahead
    engine.close()


def test_an_event_filed_ahead_of_its_receipt_is_counted_by_a_window_opening_after_it(
        tmp_path: Path) -> None:
    """The count reads the log from the events received in time for its window (the rest is
    skipped unread: `events_since(received_from=)`), less the future tolerance: an event dated
    ahead of its receipt, within the tolerance, is filed at its date, and a window opening
    after its receipt still finds it."""
    clock = ManualClock(T0)
    engine = sqlite_engine(tmp_path / "x.db", clock, future_tolerance_seconds=3600)
    engine.process(track("Product Viewed", user="early", at=T0))
    clock.advance(DAY)
    engine.process(track("Product Viewed", user="ann", at=clock.now() + 3000))  # filed ahead
    clock.advance(3000)
    engine.put_segment(Segment.from_text("lately", "did viewed_product in 1000s"))
    assert engine.profile("ann").segments == ("lately",)
    assert engine.profile("early").segments == ()
    engine.close()
