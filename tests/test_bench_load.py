"""The bench's HTTP load client against the floor app it measures (real sockets, a server in its
own process): it counts what the server accepted, and a refused request fails the run."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from intently import Engine
from intently.benchmarks import realistic, walks
from intently.benchmarks._data import shop_events
from intently.benchmarks._flood import flood
from intently.benchmarks.http import _load, _start_floor
from intently.benchmarks.walks import walk_under_ingest
from intently.testing import free_port

pytestmark = pytest.mark.slow


def test_the_load_client_counts_what_the_floor_accepted_and_stops_on_a_refusal(
        tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "floor.db"
    proc = _start_floor(db, port)
    try:
        event = b'{"type":"track","event":"Product Viewed","userId":"u%d","messageId":"m%d"}'
        bodies = [b'{"batch":[' + b",".join(event % (i, i * 10 + k) for k in range(10)) + b"]}"
                  for i in range(7)]
        assert _load(f"http://127.0.0.1:{port}/v1/batch", bodies, clients=3) > 0
        with sqlite3.connect(db) as read:
            assert read.execute("SELECT count(*) FROM events").fetchone() == (70,)
        # one event a request, each to its own path
        assert _load(f"http://127.0.0.1:{port}/v1/", [event % (1, 999)] * 2, clients=2,
                     paths=["track", "t"]) > 0
        with pytest.raises(RuntimeError, match="POST /v1/track answered 400"):
            _load(f"http://127.0.0.1:{port}/v1/", [b"[1]"], clients=1, paths=["track"])
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_the_flood_posts_every_event_once_and_stops_at_its_deadline(tmp_path: Path) -> None:
    """The flood behind `decide_under_ingest`: every event of its population, in batches from
    its threads, until they run out or its time is up."""
    port = free_port()
    db = tmp_path / "floor.db"
    proc = _start_floor(db, port)
    try:
        assert flood(port, 0.0, users=40, days=1.0) == 0.0  # the time was up at once
        assert flood(port, 60.0, users=40, days=1.0) > 0
        with sqlite3.connect(db) as read:
            stored = read.execute("SELECT count(DISTINCT payload) FROM events").fetchone()[0]
        assert stored == len(shop_events(40, 1.0, seed=3)) > 100
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_the_walk_bench_adds_its_segment_while_its_client_submits_batches(tmp_path: Path) -> None:
    """`walk_*`: the realistic store (here 300 customers, a day) gets the bench's segment while
    a thread submits the same customers' other events; the segment reaches its members."""
    events = tmp_path / "day.jsonl"
    realistic._write(shop_events(300, 1.0, seed=17), events)
    realistic.ingest(events, tmp_path / "x.db", 30)
    figures = walk_under_ingest(lambda clock: realistic.realistic_engine(tmp_path / "x.db", 30,
                                                                         clock), 300, 1.0)
    assert set(figures) == {"walk_seconds", "walk_batch_wait_max_ms", "walk_batches"}
    assert figures["walk_seconds"] > 0 and figures["walk_batch_wait_max_ms"] > 0
    engine = Engine(tmp_path / "x.db", readonly=True)
    try:
        assert walks.SEGMENT.name in engine.segment_definitions
        assert engine.store.segment_members(walks.SEGMENT.name)
    finally:
        engine.close()


def test_the_served_bench_posts_the_next_hours_to_a_server_on_a_store_filled_as_live(
        tmp_path: Path) -> None:
    """`http_large_*`: the history received as it happened (each batch at its own time), then
    the next hours posted over HTTP to `intently serve` on that store; every one accepted."""
    from intently.benchmarks import served

    figures = served.served(300, 1.0, 30, tmp_path)
    assert figures["http_large_events"] > 0 and figures["http_large_vs_floor"] > 0
    engine = Engine(tmp_path / "served.db", readonly=True)
    try:
        received = [e.received_at for e in engine.logged()]
        assert len(received) > figures["http_large_events"]  # the history, then the hours
        # received in its own time, not when the bench ran: six hours before the server
        assert min(received) < time.time() - 5 * 3600 < max(received)
    finally:
        engine.close()
