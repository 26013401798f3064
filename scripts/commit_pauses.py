"""Where the group commits of the realistic ingest go: for `shop_events(N, 1.0, seed=17)` into
a realistic engine with a cache of N / 10 records, under the CLI's switch interval (so the
commit thread writes each batch: `_sqlite_landing`), the ten longest landings on the commit
thread, each with the WAL file's size when it began, the WAL pages it wrote (the bytes the
thread wrote, `/proc/thread-self/io`), and the time a WAL copy on the copy thread overlapped
it; the live WAL's length at each copy; the engine's waits for the batch before
(`Transaction._settle`), the longest with the collector's time inside them; how a landing's
time grows with its pages; the WAL copies; and the collector's pauses by generation. A
measurement, not a benchmark: run it on an idle machine.

    .venv/bin/python scripts/commit_pauses.py 200000
"""

from __future__ import annotations

import gc
import os
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
from intently.engine import tune_threads
from intently.store import _sqlite_landing, _sqlite_tx, _wal

Span = tuple[float, float]
FRAME = 4096 + 24  # a WAL frame: the page and its header


def _written() -> int:
    """Bytes this thread has written (to files, through the page cache)."""
    with open("/proc/thread-self/io", "rb") as f:
        return int(next(line for line in f if line.startswith(b"wchar:")).split()[1])


def _overlap(spans: list[Span], start: float, end: float) -> float:
    return sum(min(end, e) - max(start, s) for s, e in spans if e > start and s < end)


class _Counted:
    """The copy thread's connection: the WAL's length in frames noted from each copy's answer
    (`PRAGMA wal_checkpoint` gives busy, frames in the WAL, frames copied)."""

    def __init__(self, db: Any, frames: list[int]) -> None:
        self.db, self.frames = db, frames

    def execute(self, sql: str) -> Any:
        row = self.db.execute(sql).fetchone()
        self.frames.append(row[1])
        return _Row(row)


class _Row:
    def __init__(self, row: Any) -> None:
        self.row = row

    def fetchone(self) -> Any:
        return self.row


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


def main(customers: int) -> None:
    tune_gc()
    tune_threads()
    collections: list[tuple[float, float, int]] = []
    began = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            collections.append((began[0], time.perf_counter(), info["generation"]))

    wal = [""]
    landings: list[tuple[float, float, int, int]] = []  # start, end, WAL bytes, pages written
    finish = _sqlite_landing.finish

    def timed_finish(db: Any, landing: Any, *hooks: Any) -> None:
        size = os.path.getsize(wal[0]) if os.path.exists(wal[0]) else 0
        before, start = _written(), time.perf_counter()
        finish(db, landing, *hooks)
        landings.append((start, time.perf_counter(), size, (_written() - before) // FRAME))

    waits: list[Span] = []
    settle = _sqlite_tx.Transaction._settle

    def timed_settle(self: Any) -> None:
        start = time.perf_counter()
        try:
            settle(self)
        finally:
            waits.append((start, time.perf_counter()))

    copies: list[Span] = []
    frames: list[int] = []  # the live WAL's frames at each copy (the file keeps its largest size)
    checkpoint: Any = _wal.WalCheckpointer._checkpoint  # called with a stand-in connection

    def timed_checkpoint(self: Any, db: Any) -> bool | None:
        start = time.perf_counter()
        try:
            return checkpoint(self, _Counted(db, frames))
        finally:
            copies.append((start, time.perf_counter()))

    patches = ((backend, "finish", timed_finish), (_sqlite_tx.Transaction, "_settle", timed_settle),
               (_wal.WalCheckpointer, "_checkpoint", timed_checkpoint))
    for owner, name, timed in patches:  # the store calls them through these names
        setattr(owner, name, timed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        realistic._write(shop_events(customers, 1.0, seed=17), path)
        wal[0] = str(Path(tmp) / "large.db-wal")
        gc.collect()
        gc.callbacks.append(on_gc)
        figures = realistic.ingest(path, Path(tmp) / "large.db", customers // 10)
        gc.callbacks.remove(on_gc)
    took = sorted(e - s for s, e, _, _ in landings)
    print(f"{customers:,} customers: {figures['events_per_s']:,.0f} events/s, {len(landings)} "
          f"landings, median {_ms(statistics.median(took)).strip()} ms, longest "
          f"{_ms(took[-1]).strip()} ms; the longest commit (the engine's side) "
          f"{figures['commit_max_ms']:.1f} ms")
    print("microseconds an event, by part: " + ", ".join(
        f"{part} {us}" for part, us in figures["us_by_part"].items()))
    print("longest landings (ms): took, WAL copy overlapping; the WAL's MiB when it began, "
          "thousands of WAL pages it wrote")
    for s, e, size, pages in sorted(landings, key=lambda r: r[0] - r[1])[:10]:
        print(f"  {_ms(e - s)}  {_ms(_overlap(copies, s, e))}  {size / 2**20:7.1f}  "
              f"{pages / 1000:7.1f}")
    sizes = [size for _, _, size, _ in landings]
    print(f"the WAL file when a landing began: median {statistics.median(sizes) / 2**20:.1f} "
          f"MiB, largest {max(sizes) / 2**20:.1f} MiB (its largest size so far: SQLite writes a "
          "copied WAL over from its start without shrinking the file)")
    if frames:
        live = sorted(frames)
        print(f"the live WAL at each copy: median {live[len(live) // 2] * FRAME / 2**20:.1f} "
              f"MiB, 90th percentile {live[len(live) * 9 // 10] * FRAME / 2**20:.1f} MiB, "
              f"largest {live[-1] * FRAME / 2**20:.1f} MiB")
    gc_spans = [(s, e) for s, e, _ in collections]
    waited = sorted(waits, key=lambda w: w[0] - w[1])
    print(f"the engine waited for the batch before {sum(e - s for s, e in waits):.2f} s in all;"
          " longest waits (ms), with the collector inside:")
    for s, e in waited[:5]:
        print(f"  {_ms(e - s)}  {_ms(_overlap(gc_spans, s, e))}")
    by_size = sorted((pages, e - s) for s, e, _, pages in landings)
    tenth = max(1, len(by_size) // 10)
    print("landings by the WAL pages they wrote, in tenths: pages (median), ms (median, max)")
    for i in range(0, len(by_size), tenth):
        part = [t for _, t in by_size[i : i + tenth]]
        print(f"  {statistics.median(n for n, _ in by_size[i : i + tenth]):8,.0f}  "
              f"{_ms(statistics.median(part))}  {_ms(max(part))}")
    took = sorted(e - s for s, e in copies)
    if took:
        print(f"WAL copies: {len(took)}, {sum(took):.1f} s in all, median "
              f"{_ms(statistics.median(took)).strip()} ms, longest {_ms(took[-1]).strip()} ms")
    for generation in (0, 1, 2):
        spans = [e - s for s, e, g in collections if g == generation]
        if spans:
            print(f"collector generation {generation}: {len(spans)} collections, "
                  f"{sum(spans):.2f} s in all, longest {max(spans) * 1000:.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
