"""Where the longest group commits of the realistic ingest go: for `shop_events(N, 1.0,
seed=17)` into a realistic engine with a cache of N / 10 records, the ten longest commits, each
split into the records written before it (`write`), SQLite's `COMMIT` (the WAL's pages and its
fsync), the collector's time inside it, the time the WAL copy on the other thread overlapped
it, the writer's own copy of the last commit's pages (`WalCheckpointer.finish`, timed inside
`COMMIT`), and the WAL pages `COMMIT` wrote (the bytes this thread wrote, `/proc/thread-self/io`);
then how `COMMIT`'s time grows with its pages, and the collector's pauses by generation. A
measurement, not a benchmark: run it on an idle machine.

    .venv/bin/python scripts/commit_pauses.py 200000
"""

from __future__ import annotations

import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import intently.store.sqlite as backend
from intently._gc import tune_gc
from intently.benchmarks import realistic
from intently.benchmarks._data import shop_events
from intently.engine import _runner
from intently.store import _wal

Span = tuple[float, float]
FRAME = 4096 + 24  # a WAL frame: the page and its header


def _written() -> int:
    """Bytes this thread has written (to files, through the page cache)."""
    with open("/proc/thread-self/io", "rb") as f:
        return int(next(line for line in f if line.startswith(b"wchar:")).split()[1])


def _overlap(spans: list[Span], start: float, end: float) -> float:
    return sum(min(end, e) - max(start, s) for s, e in spans if e > start and s < end)


class _TimedCopies:
    """The copy thread's connection, each statement (a WAL copy) timed."""

    def __init__(self, db: Any, spans: list[Span]) -> None:
        self.db, self.spans = db, spans

    def execute(self, sql: str) -> Any:
        start = time.perf_counter()
        try:
            return self.db.execute(sql)
        finally:
            self.spans.append((start, time.perf_counter()))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def main(customers: int) -> None:
    tune_gc()
    collections: list[tuple[float, float, int]] = []
    began = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            collections.append((began[0], time.perf_counter(), info["generation"]))

    writes: list[Span] = []
    commits: list[Span] = []
    pages: list[int] = []
    copies: list[Span] = []

    commit = backend._Transaction.commit

    def timed_commit(self: Any) -> None:
        before = _written()
        start = time.perf_counter()
        commit(self)
        commits.append((start, time.perf_counter()))
        pages.append((_written() - before) // FRAME)

    write_some = _runner.Runner._write_some

    def timed_write(self: Any, tx: Any, first: int, last: int) -> Any:
        start = time.perf_counter()
        try:
            return write_some(self, tx, first, last)
        finally:
            writes.append((start, time.perf_counter()))

    finishes: list[Span] = []
    finish = _wal.WalCheckpointer.finish

    def timed_finish(self: Any, db: Any) -> None:  # the writer copying the last commit's pages
        start = time.perf_counter()
        try:
            finish(self, db)
        finally:
            finishes.append((start, time.perf_counter()))

    run = _wal.WalCheckpointer._run

    def timed_run(self: Any) -> None:  # the copy thread, each copy timed
        self._db = _TimedCopies(self._db, copies)
        run(self)

    backend._Transaction.commit = timed_commit  # type: ignore[method-assign]
    _runner.Runner._write_some = timed_write  # type: ignore[method-assign]
    _wal.WalCheckpointer._run = timed_run  # type: ignore[method-assign]
    _wal.WalCheckpointer.finish = timed_finish  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        realistic._write(shop_events(customers, 1.0, seed=17), path)
        gc.collect()
        gc.callbacks.append(on_gc)
        figures = realistic.ingest(path, Path(tmp) / "large.db", customers // 10)
        gc.callbacks.remove(on_gc)
    print(f"{customers:,} customers: {figures['events_per_s']:,.0f} events/s, "
          f"{len(commits)} commits, median COMMIT "
          f"{statistics.median(e - s for s, e in commits) * 1000:.1f} ms; the WAL copied "
          f"{len(copies)} times, overlapping {sum(_overlap(copies, *c) > 0 for c in commits)} "
          "commits")
    print("microseconds an event, by part: " + ", ".join(
        f"{part} {us}" for part, us in figures["us_by_part"].items()))
    gc_spans = [(s, e) for s, e, _ in collections]
    rows = sorted(((ce - ws, we - ws, ce - cs, _overlap(gc_spans, ws, ce),
                    _overlap(copies, cs, ce), _overlap(finishes, cs, ce), n / 1000)
                   for (ws, we), (cs, ce), n in zip(writes, commits, pages, strict=False)),
                  reverse=True)
    print("longest commits (ms): total, write, COMMIT, collector inside, WAL copy overlapping,"
          " the writer's own copy inside; thousands of WAL pages")
    for row in rows[:10]:
        print("  " + "  ".join(f"{x * 1000:7.1f}" for x in row[:6]) + f"  {row[6]:7.1f}")
    if finishes:
        took = sorted(e - s for s, e in finishes)
        print(f"the writer's own copies: {len(took)}, median {statistics.median(took) * 1000:.1f}"
              f" ms, longest {took[-1] * 1000:.1f} ms")
    took = sorted(e - s for s, e in copies)
    if took:
        print(f"the thread's copies: {len(took)}, median {statistics.median(took) * 1000:.1f} ms,"
              f" longest {took[-1] * 1000:.1f} ms")
    by_size = sorted(zip(pages, ((e - s) for s, e in commits), strict=False))
    tenth = max(1, len(by_size) // 10)
    print("COMMIT by its WAL pages, in tenths: pages (median), COMMIT ms (median, max)")
    for i in range(0, len(by_size), tenth):
        part = by_size[i : i + tenth]
        took = [t for _, t in part]
        print(f"  {statistics.median(n for n, _ in part):8,.0f}  "
              f"{statistics.median(took) * 1000:7.1f}  {max(took) * 1000:7.1f}")
    for generation in (0, 1, 2):
        took = [e - s for s, e, g in collections if g == generation]
        if took:
            print(f"collector generation {generation}: {len(took)} collections, "
                  f"{sum(took):.2f} s in all, longest {max(took) * 1000:.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
