"""A walk through every record while events arrive: a segment with a windowed condition added to
the realistic run's large store (ten times the cache; built-in segments and the six scenarios
on) while a client submits batches of 100 events to the engine's worker, as the HTTP API does.
Adding it reads the log for the condition's window and evaluates every record, a page at a
time, committing the waiting batches between pages (`Runner.let_events_through`).

- `walk_seconds`: how long the segment took to reach every record;
- `walk_batch_wait_max_ms`: the longest a batch waited meanwhile (the ingest pause a marketer
  adding a segment causes; before the walks let events through, the whole walk);
- `walk_batches`: batches committed during it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import msgspec

from ..clock import Clock, ManualClock
from ..engine import Engine, EngineWorker
from ..events import Event, decode_batch
from ..segments import Segment
from ._data import shop_events

SEGMENT = Segment.from_text("keen viewers", "did viewed_product at least 3 times in 7d")
BATCH = 100
WAIT_S = 600.0


def walk_under_ingest(open_engine: Callable[[Clock], Engine], users: int, days: float
                      ) -> dict[str, Any]:
    """Add `SEGMENT` to the store `open_engine` opens (the realistic run's, its `users` over
    `days`) while a thread submits batches of the same customers' events (another seed of the
    simulator) one after another."""
    raws = shop_events(users, days, seed=18)
    decode = msgspec.json.Decoder(Event).decode
    latest = max(decode(raw).ts for raw in raws)
    # the store's day ends where the simulator's does: the window then covers its log
    engine = open_engine(ManualClock(latest + 60))
    worker = EngineWorker(engine).start()
    acks: list[float] = []
    stop = threading.Event()

    def submit() -> None:
        for start in range(0, len(raws), BATCH):
            if stop.is_set():
                return
            events, _ = decode_batch(raws[start:start + BATCH], start)
            worker.submit(events).result(WAIT_S)
            acks.append(time.perf_counter())
        acks.append(float("inf"))  # out of events: nothing waited after the last

    client = threading.Thread(target=submit, name="bench-walk-client", daemon=True)
    try:
        client.start()
        deadline = time.monotonic() + WAIT_S
        while len(acks) < 10 and client.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)  # the client under way before the walk starts
        started = time.perf_counter()
        worker.call(lambda e: e.put_segment(SEGMENT)).result(WAIT_S)
        ended = time.perf_counter()
        stop.set()
        client.join(WAIT_S)
    finally:
        stop.set()
        worker.stop()
    during = [t for t in acks if started <= t <= ended]
    # a batch answered just before the walk began waits from the walk's start at most
    marks = [started, *during, ended if acks[-1] > ended else acks[-2]]
    return {"walk_seconds": round(ended - started, 2),
            "walk_batch_wait_max_ms": round(max(b - a for a, b in pairwise(marks)) * 1000, 1),
            "walk_batches": len(during)}
