"""WAL checkpoints off the commit path, for the SQLite backend.

SQLite's automatic checkpoint runs inside the commit that fills the WAL: that commit copies
every page the WAL holds into the database file and syncs it, a pause of hundreds of
milliseconds in ingest. Here a thread of its own, with its own connection, copies them instead
(a PASSIVE checkpoint: it never blocks the writer, and SQLite runs it without holding Python's
GIL, so it uses the other core). The writer keeps a far larger automatic threshold as a safety
net, should this thread fall behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

_log = logging.getLogger("intently.store")

SAFETY_PAGES = 4 * 16384
"""The writer's own automatic checkpoint, should the thread fall behind (256 MiB of WAL)."""


class WalCheckpointer:
    def __init__(self, path: str, every_s: float = 2.0) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 10000")
        self.every_s = every_s
        self.checkpoints = 0
        self.failures = 0
        self._asked = 0.0
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="intently-wal", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """A commit went through: copy the WAL soon (at most once every `every_s`)."""
        now = time.monotonic()
        if now - self._asked >= self.every_s:
            self._asked = now
            self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop:
                return
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self.checkpoints += 1
            except sqlite3.Error as exc:  # the writer's safety net still bounds the WAL
                self.failures += 1
                _log.warning("WAL checkpoint failed; retried after the next commit",
                             extra={"error": str(exc)})

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=60)
        self._db.close()
