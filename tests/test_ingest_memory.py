"""File ingestion streams: four times the rows cost no more memory (the records are the same
twenty customers; only the file grows)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from intently import Engine, ManualClock
from intently.engine import ingest_file

pytestmark = pytest.mark.slow


def write_rows(path: Path, n: int) -> None:
    with path.open("w") as fh:
        fh.write("user_id,event_time,event_type,product_id,price\n")
        for i in range(n):
            fh.write(f"u{i % 20},{1_700_000_000 + i},view,p{i % 997},{(i % 50) + 0.99}\n")


def peak_during_ingest(tmp_path: Path, n: int) -> int:
    path = tmp_path / f"rows{n}.csv"
    write_rows(path, n)
    engine = Engine(tmp_path / f"db{n}.db", clock=ManualClock(1_800_000_000))
    tracemalloc.start()
    result = ingest_file(engine, path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    engine.close()
    assert result.accepted == n
    return peak


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    small = peak_during_ingest(tmp_path, 5_000)
    large = peak_during_ingest(tmp_path, 20_000)
    # 15,000 more rows are about 1 MB of CSV and would be several MB as parsed events
    assert large - small < 512 * 1024, (small, large)
