"""The server's path on a large store with a long log: a client submits batches of 100 events
to the engine's worker, as `intently serve` takes them, and reports events/s and the longest
wait for a batch; with SEGMENT, that segment is added meanwhile (`benchmarks/walks.py`), and
it reports how long counting its windows from the log took, how long the whole walk took and
the longest a batch waited. The store (`shop_events(N, DAYS, seed=17)` in a realistic engine,
a cache of N / 10 records) is built once in DIR, as live traffic fills it (the engine's clock
at each batch's latest event, so events are received when they happen: an imported history
is received all at once, when it is imported), and copied for each run, so builds can be
compared on the same store; the engine's clock stands where the store's log ends, and the
client sends the same customers' events of another seed. A measurement, not a benchmark: run
it on an idle machine, alternating the builds compared.

    .venv/bin/python scripts/large_store.py DIR 200000 8
    .venv/bin/python scripts/large_store.py DIR 200000 8 "did viewed_product in 1h"
    PYTHONPATH=<tree>/src .venv/bin/python scripts/large_store.py DIR 200000 8 ...
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import msgspec

import intently.engine._segments as service
from intently._gc import tune_gc
from intently._threads import tune_threads_for_serving
from intently.benchmarks import realistic, walks
from intently.benchmarks._data import shop_events
from intently.benchmarks.served import fill_as_live
from intently.clock import ManualClock
from intently.engine import EngineWorker, tune_threads
from intently.events import Event, decode_batch
from intently.segments import Segment


def _store(root: Path, users: int, days: float) -> Path:
    store = root / f"store-{users}-{days:g}.db"
    if not store.exists():
        fill_as_live(store, users // 10, shop_events(users, days, seed=17))
    return store


def _copy(root: Path, users: int, days: float) -> Path:
    store = _store(root, users, days)
    run = root / "run.db"
    for old in root.glob("run.db*"):
        old.unlink()
    for part in root.glob(store.name + "*"):  # the database and its WAL, if any
        shutil.copy(part, root / part.name.replace(store.name, run.name))
    return run


def serve(root: Path, users: int, days: float, events: int = 60_000) -> dict[str, Any]:
    """The client alone: `events` of the other seed, a batch of 100 at a time."""
    tune_gc()
    tune_threads_for_serving()  # as `intently serve` runs
    root.mkdir(parents=True, exist_ok=True)
    run = _copy(root, users, days)
    every = shop_events(users, days, seed=18)
    latest = max(msgspec.json.decode(raw, type=Event).ts for raw in every)  # as `walks`
    raws = every[:events]
    engine = realistic.realistic_engine(run, users // 10, ManualClock(latest + 60))
    worker = EngineWorker(engine).start()
    acks = [time.perf_counter()]
    try:
        for start in range(0, len(raws), walks.BATCH):
            batch, kept = decode_batch(raws[start:start + walks.BATCH], start)
            worker.submit(batch, kept).result(walks.WAIT_S)
            acks.append(time.perf_counter())
    finally:
        worker.stop()
    waits = sorted((b - a for a, b in pairwise(acks)), reverse=True)
    return {"events_per_s": round(len(raws) / (acks[-1] - acks[0])),
            "batch_wait_max_ms": round(waits[0] * 1000, 1),
            "batch_wait_p99_ms": round(waits[len(waits) // 100] * 1000, 1)}


def main(root: Path, users: int, days: float, text: str) -> dict[str, Any]:
    """The client while `text`, a segment, is added."""
    tune_gc()
    tune_threads()  # as the bench runs its walk
    root.mkdir(parents=True, exist_ok=True)
    run = _copy(root, users, days)
    walks.SEGMENT = Segment.from_text("probe", text)
    spent: dict[str, float] = {}
    count = service.SegmentService._count_history

    def timed(self: service.SegmentService, conditions: set[Any]) -> None:
        began = time.perf_counter()
        count(self, conditions)
        spent["count_seconds"] = round(time.perf_counter() - began, 3)

    service.SegmentService._count_history = timed  # type: ignore[method-assign]
    figures = walks.walk_under_ingest(
        lambda clock: realistic.realistic_engine(run, users // 10, clock), users, days)
    return {**figures, **spent}


if __name__ == "__main__":
    where, customers, span = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(main(where, customers, span, sys.argv[4]) if len(sys.argv) > 4
                     else serve(where, customers, span)))
