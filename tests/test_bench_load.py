"""The bench's HTTP load client against the floor app it measures (real sockets, a server in its
own process): it counts what the server accepted, and a refused request fails the run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from intently.benchmarks._data import shop_events
from intently.benchmarks._flood import flood
from intently.benchmarks.http import _load, _start_floor
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
