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

Unless the next write begins before the copy ends: where the commit thread is the slower one
(a million customers), each landing began as the one before it ended, no copy ever ended
first, and the WAL grew past the safety net. Every read looks its pages up in the WAL's index
first, one hash table per 4,096 frames, so a long WAL slows reads too. So once the WAL holds
`LONG_COMMITS` commits and `LONG_ROWS` rows, the writer waits before it begins
(`before_write`) for a copy begun after the last commit to end: the write then starts the WAL
over. A WAL of a few small commits (one event each, as `/v1/track` commits them) is cheap to
keep, and waiting for its copy would only lengthen each commit: such writes never wait.
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

LONG_COMMITS = 4
"""A WAL holding this many commits is started over by the next write (`before_write`)."""

LONG_ROWS = 4096
"""... and the writer wrote at least this many rows since it started over: at a large
population, about as many pages (each row's page is one of its own), one WAL-index hash table
of frames (16 MiB); fewer where rows share pages."""

WAIT_COPY_S = 5.0
"""The longest a writer waits for the copy under way before it writes anyway."""


class WalCheckpointer:
    def __init__(self, path: str, every_s: float = COPY_EVERY_S, *, start: bool = True) -> None:
        """`start=False`: no thread; `copy` is called by the caller (tests)."""
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 10000")
        self.every_s = every_s
        self.checkpoints = 0
        self.failures = 0
        self.waits = 0
        """Writes that waited for a copy (`before_write`)."""
        self._commits = 0
        self._tried = 0  # the commits a copy ended after (copied whole or not)
        self._whole = 0  # the commits a copy ended after with every frame copied
        self._held = 0  # the commits the WAL holds, as the writer counts them
        self._rows = 0  # the writer's `total_changes` when it last started the WAL over
        self._ended = threading.Condition()
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
            whole = self._checkpoint(self._db)
            with self._ended:
                self._tried = max(self._tried, seen)
                if whole:
                    self._whole = max(self._whole, seen)
                self._ended.notify_all()
            if whole is None or self._commits == seen:
                break
        self.checkpoints += 1

    def before_write(self, rows: int) -> None:
        """Called by the writer before it begins a write transaction (one at a time), with its
        connection's `total_changes` (`rows`): once the WAL holds `LONG_COMMITS` commits and
        `LONG_ROWS` rows, wait (at most `WAIT_COPY_S`) for a copy begun after the last commit
        to end, so that this write starts the WAL over. A copy that a reader holds back ends
        all the same (it never waits), and the write goes on."""
        target = self._commits
        if self._whole < target and self._held >= LONG_COMMITS and (
                rows - self._rows >= LONG_ROWS) and not self._stop and self._thread.is_alive():
            self.waits += 1
            self._wake.set()
            with self._ended:
                ended = self._ended.wait_for(lambda: self._tried >= target or self._stop,
                                             timeout=WAIT_COPY_S)
            if not ended:
                _log.warning("the WAL copy is slow; writing without starting the WAL over",
                             extra={"wal_commits": self._held, "waited_s": WAIT_COPY_S})
        # every commit so far copied: this write starts the WAL over (unless a reader still
        # reads its frames, which only delays that to a later write)
        if self._whole >= target:
            self._held = 0
            self._rows = rows
        else:
            self._held += 1

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
        with self._ended:
            self._ended.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=60)
        self._db.close()
