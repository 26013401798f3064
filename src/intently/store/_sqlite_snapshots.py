"""Reads for threads other than the writer's, that never wait for it.

The store's writer holds its lock from the start of a group commit to its hand-over: in a
server that is the whole batch, pipeline included (up to a few dozen milliseconds), and a
decision at the till that asked for a record the cache did not hold waited that long behind
it, with the event loop's thread and every request on it (`/v1/decide` under a flood of
batches: 99th percentile 11-19 ms, against 7 for receipts that name no one). These reads go to
a read-only connection of the calling thread's own, which sees the last commit that finished
(WAL readers do not wait for the writer), and `SQLiteStore` covers the batch landing on top.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any


class SnapshotReads:
    """One read-only connection per thread that reads, made on its first read; `close`
    closes them all."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._mine = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._guard = threading.Lock()  # the list, and closing
        self._closed = False

    def one(self, query: str, arg: str) -> tuple[Any, ...] | None:
        """The first row `query` gives for its one parameter."""
        db: sqlite3.Connection | None = getattr(self._mine, "db", None)
        if db is None:
            db = self._connect()
            with self._guard:
                if self._closed:
                    db.close()
                    raise sqlite3.ProgrammingError("the store is closed")
                self._all.append(db)
            self._mine.db = db
        row: tuple[Any, ...] | None = db.execute(query, (arg,)).fetchone()
        return row

    def close(self) -> None:
        with self._guard:
            self._closed = True
            made, self._all = self._all, []
        for db in made:
            db.close()
