"""WAL checkpoints off the commit path, for the SQLite backend.

SQLite's automatic checkpoint runs inside the commit that fills the WAL: that commit copies
every page the WAL holds into the database file and syncs it, a pause of hundreds of
milliseconds in ingest. Here a thread of its own, with its own connection, copies them instead
(a PASSIVE checkpoint: it never blocks the writer, and SQLite runs it without holding Python's
GIL, so it uses the other core). The writer keeps a far larger automatic threshold as a safety
net, should this thread fall behind.

A copied WAL is written from its start again by the next write transaction that *begins* when
every frame is copied. The group commit holds SQLite's write lock only for its last
milliseconds (`_sqlite_tx`), so the thread, woken by each commit, copies that commit's pages
while the engine runs the next batch, and the next commit starts the WAL over: it stays about
one commit long, and the writer never copies pages itself.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

_log = logging.getLogger("intently.store")

SAFETY_PAGES = 8 * 16384
"""The writer's own automatic checkpoint, should the thread fall behind (512 MiB of WAL)."""

COPY_EVERY_S = 0.0
"""The thread copies at most this often (0: after every commit, which keeps the WAL shortest)."""


class WalCheckpointer:
    def __init__(self, path: str, every_s: float = COPY_EVERY_S, *, start: bool = True) -> None:
        """`start=False`: no thread; `copy` is called by the caller (tests)."""
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 10000")
        self.every_s = every_s
        self.checkpoints = 0
        self.failures = 0
        self._commits = 0
        self._asked = 0.0
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="intently-wal", daemon=True)
        if start:
            self._thread.start()

    def committed(self) -> None:
        """A commit went through: copy the WAL soon (at most once every `every_s`)."""
        self._commits += 1
        now = time.monotonic()
        if now - self._asked >= self.every_s:
            self._asked = now
            self._wake.set()

    def copy(self) -> None:
        """Copy the WAL into the database: again while commits came during the copy (a few
        times at most)."""
        for _ in range(4):
            seen = self._commits
            if self._checkpoint(self._db) is None or self._commits == seen:
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
