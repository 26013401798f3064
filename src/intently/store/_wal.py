"""WAL checkpoints off the commit path, for the SQLite backend.

SQLite's automatic checkpoint runs inside the commit that fills the WAL: that commit copies
every page the WAL holds into the database file and syncs it, a pause of hundreds of
milliseconds in ingest. Here a thread of its own, with its own connection, copies them instead
(a PASSIVE checkpoint: it never blocks the writer, and SQLite runs it without holding Python's
GIL, so it uses the other core). The writer keeps a far larger automatic threshold as a safety
net, should this thread fall behind.

A copied WAL is written from its start again only by a transaction that began when every frame
was copied. The writer commits while the thread copies, so that moment never comes by itself:
the WAL grows to the safety net, and the commit that crosses it copies tens of thousands of
pages (half a second at 200,000 customers). So the thread copies until a copy ends with no
commit made during it; the writer, after its next commit, copies that commit's pages itself
(`committed` returns True, then `finish`), and its next transaction writes the WAL from its
start. That costs the writer about one commit's time, once every `every_s`, and only after a
commit that was quick: a long one leaves the copy to the thread.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

_log = logging.getLogger("intently.store")

SAFETY_PAGES = 8 * 16384
"""The writer's own automatic checkpoint, should the thread fall behind (512 MiB of WAL)."""

FINISH_AFTER_S = 0.1
"""The writer copies the last pages itself only after a commit quicker than this."""


class WalCheckpointer:
    def __init__(self, path: str, every_s: float = 2.0, *, start: bool = True) -> None:
        """`start=False`: no thread; `copy` is called by the caller (tests)."""
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 10000")
        self.every_s = every_s
        self.checkpoints = 0
        self.failures = 0
        self.finished = 0
        """Copies the writer finished (each lets its next transaction start the WAL over)."""
        self.finish_seconds_max = 0.0
        """The longest of them: a pause in the writer."""
        self._commits = 0
        self._copied_at = -1
        """the commit count when a copy last ended with every page copied (-1: none since)"""
        self._asked = 0.0
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="intently-wal", daemon=True)
        if start:
            self._thread.start()

    def committed(self, took_s: float = 0.0) -> bool:
        """A commit went through (in `took_s`): copy the WAL soon (at most once every
        `every_s`). True when a copy had copied every page before this commit and the commit
        was quick: the writer should `finish` now."""
        self._commits += 1
        if self._copied_at >= 0:
            behind, self._copied_at = self._commits - self._copied_at, -1
            if behind == 1 and took_s < FINISH_AFTER_S:  # else the thread copies again
                return True
        now = time.monotonic()
        if now - self._asked >= self.every_s:
            self._asked = now
            self._wake.set()
        return False

    def finish(self, db: sqlite3.Connection) -> None:
        """On the writer's connection, between its transactions: copy the pages the thread
        left, so that the next transaction writes the WAL from its start."""
        started = time.perf_counter()
        if self._checkpoint(db) is not None:
            self.finished += 1
            self.finish_seconds_max = max(self.finish_seconds_max,
                                          time.perf_counter() - started)

    def copy(self) -> None:
        """Copy the WAL into the database: again while commits came during the copy (a few
        times at most); note when a copy ended with every page copied and no commit made
        during it (a reader of an older snapshot can hold pages back)."""
        for _ in range(4):
            seen = self._commits
            whole = self._checkpoint(self._db)
            if whole is None:
                return
            if self._commits == seen:
                if whole:
                    self._copied_at = seen
                break
        self.checkpoints += 1

    def _checkpoint(self, db: sqlite3.Connection) -> bool | None:
        """Whether every page of the WAL was copied (None: the copy failed)."""
        try:
            _, log, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # copied again after the next commits; the writer's
            self.failures += 1        # safety net still bounds the WAL
            _log.warning("WAL checkpoint failed; retried after the next commit",
                         extra={"error": str(exc)})
            return None
        return bool(log == copied)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop:
                return
            self.copy()

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)
        self._db.close()
