"""A segment with a short window added to a store with a long log, while a client submits
batches of 100 events (`benchmarks/walks.py`): how long counting the window's events from the
log took, how long the whole walk took, and the longest a batch waited meanwhile. The store
(`shop_events(N, DAYS, seed=17)` in a realistic engine, a cache of N / 10 records) is built
once in DIR, as live traffic fills it (the engine's clock at each batch's latest event, so
events are received when they happen: an imported history is received all at once, when it
is imported), and copied for each run, so builds can be compared on the same store; the
engine's clock stands where the store's log ends. A measurement, not a benchmark: run it on an
idle machine, alternating the builds compared.

    .venv/bin/python scripts/window_count.py DIR 50000 8 "did viewed_product in 1h"
    PYTHONPATH=<tree>/src .venv/bin/python scripts/window_count.py DIR 50000 8 "..."
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import intently.engine._segments as service
from intently._gc import tune_gc
from intently.benchmarks import realistic, walks
from intently.benchmarks._data import shop_events
from intently.clock import ManualClock
from intently.engine import tune_threads
from intently.events import decode_batch
from intently.segments import Segment


def _store(root: Path, users: int, days: float) -> Path:
    store = root / f"store-{users}-{days:g}.db"
    if not store.exists():
        raws = shop_events(users, days, seed=17)
        clock = ManualClock(0.0)
        engine = realistic.realistic_engine(store, users // 10, clock)
        size = engine.settings.batch_size
        for start in range(0, len(raws), size):
            events, kept = decode_batch(raws[start:start + size], start)
            clock.set(max(clock.now(), *(ev.ts for ev in events)))
            engine.commit_batch(events, kept)
        engine.close()
    return store


def main(root: Path, users: int, days: float, text: str) -> dict[str, Any]:
    tune_gc()
    tune_threads()  # as the CLI runs
    root.mkdir(parents=True, exist_ok=True)
    store = _store(root, users, days)
    run = root / "run.db"
    for old in root.glob("run.db*"):
        old.unlink()
    for part in root.glob(store.name + "*"):  # the database and its WAL, if any
        shutil.copy(part, root / part.name.replace(store.name, run.name))
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
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]),
                          sys.argv[4])))
