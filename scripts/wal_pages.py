"""Where a large population's commits go: the WAL pages each table costs during the realistic
ingest of `shop_events(N, 1.0, seed=17)` (a cache of N / 10 records), per row written and per
event. A measurement, not a benchmark: every statement of a group commit is committed on its
own (so its pages can be counted), the engine's thread writes them row by row (Python's default
switch interval: `_sqlite_landing.hands_over`), and the WAL is never copied back, so the rate
it prints is not the engine's.

    .venv/bin/python scripts/wal_pages.py 100000
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

import intently.store.sqlite as backend
from intently._gc import tune_gc
from intently.benchmarks import realistic
from intently.benchmarks._data import shop_events
from intently.store import _sqlite_tx

FRAME = 4096 + 24  # a WAL frame: the page and its header
_TABLE = re.compile(r"(?:INTO|FROM|UPDATE)\s+(\w+)", re.I)


class _NoCheckpoints:
    """In place of the WAL checkpointer: the WAL only grows, so its size counts pages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def committed(self, took_s: float = 0.0) -> bool:
        return False

    def close(self) -> None:
        pass


class _Counting:
    """The store's connection inside a group commit: each write committed by itself, and the
    WAL's growth booked to the table it wrote."""

    def __init__(self, db: sqlite3.Connection, wal: str, pages: collections.Counter[str],
                 rows: collections.Counter[str]) -> None:
        self.db, self.wal, self.pages, self.rows = db, wal, pages, rows

    def _book(self, sql: str, n: int) -> None:
        verb = sql.lstrip().split(None, 1)[0].upper()
        if verb == "SELECT" or "meta" in sql:
            return
        match = _TABLE.search(sql)
        table = (match.group(1) if match else "?") + (" (delete)" if verb == "DELETE" else "")
        before = os.path.getsize(self.wal) if os.path.exists(self.wal) else 0
        self.db.execute("COMMIT")
        self.pages[table] += (os.path.getsize(self.wal) - before) // FRAME
        self.rows[table] += n
        self.db.execute("BEGIN IMMEDIATE")

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        rows = list(rows)
        cursor = self.db.executemany(sql, rows)
        self._book(sql, len(rows))
        return cursor

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        cursor = self.db.execute(sql, *args)
        if sql.strip().upper() not in ("COMMIT", "ROLLBACK"):
            self._book(sql, 1)
        return cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def main(customers: int) -> None:
    tune_gc()
    root = Path(tempfile.mkdtemp())
    pages: collections.Counter[str] = collections.Counter()
    rows: collections.Counter[str] = collections.Counter()
    db = root / "store.db"
    opened = _sqlite_tx.Transaction.__init__

    def counting(tx: Any, store: Any) -> None:
        opened(tx, store)
        tx._db = _Counting(store._conn, f"{db}-wal", pages, rows)

    patches = ((backend, "WalCheckpointer", _NoCheckpoints),
               (backend, "SAFETY_PAGES", 0),  # nor SQLite's automatic checkpoint
               (_sqlite_tx.Transaction, "__init__", counting))
    for owner, name, value in patches:  # the store finds them through these names
        setattr(owner, name, value)
    sys.setswitchinterval(0.005)  # the engine's thread writes each batch (`hands_over`)
    try:
        events = shop_events(customers, 1.0, seed=17)
        realistic._write(events, root / "events.jsonl")
        realistic.ingest(root / "events.jsonl", db, max(1, customers // 10))
    finally:
        shutil.rmtree(root)
    total = sum(pages.values())
    print(f"{customers:,} customers, {len(events):,} events: {total:,} WAL pages, "
          f"{total / len(events):.2f} per event")
    for table, n in pages.most_common():
        if rows[table]:
            print(f"  {table:22} {n:>9,} pages {rows[table]:>9,} rows "
                  f"{n / rows[table]:5.2f} per row {n / len(events):5.2f} per event")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
