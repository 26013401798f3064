"""A group commit written and committed on another thread while the engine runs the next batch.

A SQLite group commit spends its time in B-tree inserts and in `COMMIT` itself: writing the
pages the batch changed to the WAL and syncing it. SQLite runs both without Python's GIL, so a
thread of its own can do them on the other core while the engine decodes and applies the next
batch. The engine builds the batch's statements (one a table, `_sqlite_bulk`) and hands them
over: the batch is then *landing*, and durable once the commit thread has run `BEGIN
IMMEDIATE`, them and `COMMIT`. Each statement the commit thread runs waits for the GIL once,
up to Python's switch interval: where that is the default 5 ms (`hands_over`), the engine's
thread runs `BEGIN` and the statements itself and hands over only the `COMMIT`; so does a
caller whose clients wait on each commit (`commit_later(hand_over=False)`: the server's
`EngineWorker`, where the event loop's thread wants the GIL too and a commit thread waiting
for it at each statement answers the clients later).

Until then the store answers as if it were committed, for the one thread that may use it (the
engine's: the landing holds the store's lock for it, so no other thread reads or writes
meanwhile). Its reads go to a second, read-only connection, which sees the last commit that
finished, and the landing covers the rest: the ids it claimed, the log position after it, the
records and identities it writes. Anything else that needs the write connection waits for the
landing first (`SQLiteStore.settle`). The next batch is handed over only once this one is
finished: one batch lands at a time, in order.

A landing that fails (a full disk, an I/O error, a key another writer took) is rolled back
whole, as a commit that fails in place would be. Its future says so; whoever acknowledges its
events answers with the error, and the next commit or `settle` raises it too, so the engine
goes back to its last checkpoint instead of building on what was lost.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from .._errors import StoreError
from ._sqlite_bulk import Statement, run_statements

_log = logging.getLogger("intently.store")


@dataclass
class Landing:
    """A written batch whose `COMMIT` runs on the commit thread."""

    next_seq: int
    """The log position after its events."""
    ids: dict[str, int]
    """The message ids it claimed, with their positions; `orders` the same for order ids."""
    orders: dict[str, int]
    statements: list[Statement]
    """What the commit thread writes, in order (none where the engine's thread wrote the
    batch: `hands_over`); emptied once run."""
    next_journal: int = 0
    """The number after its journal rows, where it numbered any (`Transaction.put_effects`)."""
    profiles: dict[str, bytes | None] = field(default_factory=dict)
    """The records it writes (None: deleted), and the identities, as the store will hold them."""
    identities: dict[str, str] = field(default_factory=dict)
    durable: Future[None] = field(default_factory=Future)
    """Done once the commit finished: its result, or the reason nothing of it was kept."""
    owner: int = field(default_factory=threading.get_ident)
    """The thread that wrote it, and holds the store's lock for it until it settles."""


HANDOVER_SWITCH_S = 0.001
"""The commit thread writes the batches only where Python's switch interval is this short or
shorter (`intently._threads`)."""


def hands_over() -> bool:
    """Whether the commit thread writes the batch (else the engine's thread writes it and
    hands over only the `COMMIT`): each statement it runs waits for the GIL once, up to the
    switch interval while the engine's thread runs Python."""
    return sys.getswitchinterval() <= HANDOVER_SWITCH_S


def finish(db: sqlite3.Connection, landing: Landing, committed: Callable[[], None],
           before_write: Callable[[], None]) -> None:
    """On the commit thread: write the batch, unless the engine's thread did, and `COMMIT`
    it; or roll it all back. `before_write`: called before the write begins (`_wal`)."""
    try:
        statements, landing.statements = landing.statements, []
        if statements:
            before_write()
            db.execute("BEGIN IMMEDIATE")
            run_statements(db, statements)
        db.execute("COMMIT")
    except BaseException as exc:
        try:
            if db.in_transaction:
                db.execute("ROLLBACK")
        except sqlite3.Error as undo:
            _log.error("rolling back a failed commit failed", extra={"error": str(undo)})
        _log.error("group commit failed on the commit thread; none of it was kept", extra={
            "error": f"{type(exc).__name__}: {exc}", "next_seq": landing.next_seq})
        landing.durable.set_exception(StoreError(f"the group commit failed: {exc}"))
        return
    committed()
    landing.durable.set_result(None)
