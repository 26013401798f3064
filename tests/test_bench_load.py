"""The bench's HTTP load client against the floor app it measures (real sockets, a server in its
own process): it counts what the server accepted, and a refused request fails the run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

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
