"""The SQLite backend's group commit: a short write transaction at its end.

A batch's transaction lasts while the engine runs the batch: it claims message and order ids,
reads records, runs the pipeline, then appends the events with their effects and some records.
Holding SQLite's write lock all that time would leave no moment between commits when every
page of the WAL is copied into the database, and only a write transaction that *begins* at
such a moment writes the WAL from its start again (`_wal`). So this transaction writes nothing
until `commit`: its writes wait in memory, in order, and `commit` runs them in one
`BEGIN IMMEDIATE` ... `COMMIT`, a few milliseconds of lock for a batch that took hundreds.

Claims are decided when asked, from the ids the store holds (read then, outside any write
transaction) and those this transaction claimed already. The store's lock, held from
`transaction()` to the end, keeps the process's other writers out meanwhile, and the writer's
lock file keeps other processes out; the claims' inserts are plain inserts all the same, so a
claim another writer took anyway fails the commit instead of being counted twice.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING

import msgspec

from .._errors import StoreError
from ._rows import (
    AccountUpdate,
    JournalEntry,
    LogRow,
    Merge,
    OutboxRow,
    SegmentChange,
    final_memberships,
)
from ._sqlite_landing import Landing
from ._tx import EndsOnExit

if TYPE_CHECKING:
    from .sqlite import SQLiteStore

CHUNK = 900
"""Parameters per `IN (...)` query."""

_log = logging.getLogger("intently.store")

Write = Callable[..., None]
"""A deferred write: called with the connection, then its arguments."""


def write_state(db: sqlite3.Connection, seq: int, profiles: dict[str, bytes | None],
                identities: dict[str, str], merges: Sequence[Merge],
                changes: Sequence[SegmentChange],
                timers: dict[str, float | None] | None) -> None:
    """Write records, identities, merges, segment changes and timers, and the position recovery
    replays from, inside the caller's transaction."""
    db.executemany(
        "INSERT INTO profiles (id, body, seq) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET body = excluded.body, seq = excluded.seq",
        ((pid, body, seq) for pid, body in profiles.items() if body is not None),
    )
    db.executemany("DELETE FROM profiles WHERE id = ?",
                   ((pid,) for pid, body in profiles.items() if body is None))
    db.executemany("INSERT OR REPLACE INTO identities (key, profile_id) VALUES (?, ?)",
                   identities.items())
    db.executemany(
        "INSERT INTO merges (into_id, from_id, reason, ts, head) "
        "VALUES (?, ?, ?, ?, ?)",
        ((m.into_id, m.from_id, m.reason, m.ts, m.head) for m in merges),
    )
    db.executemany(
        "INSERT INTO segment_changes (segment, profile_id, entered, ts) "
        "VALUES (?, ?, ?, ?)",
        ((c.segment, c.profile_id, int(c.entered), c.ts) for c in changes))
    upserts, deletes = final_memberships(changes)  # the last change of each record holds
    db.executemany(
        "INSERT OR REPLACE INTO segment_members (segment, profile_id, since) "
        "VALUES (?, ?, ?)", upserts)
    db.executemany("DELETE FROM segment_members WHERE segment = ? AND profile_id = ?", deletes)
    dropped = [(pid,) for pid, body in profiles.items() if body is None]
    db.executemany("DELETE FROM segment_members WHERE profile_id = ?", dropped)
    timers = timers or {}
    db.executemany("INSERT OR REPLACE INTO timers (profile_id, due) VALUES (?, ?)",
                   ((p, d) for p, d in timers.items() if d is not None))
    db.executemany("DELETE FROM timers WHERE profile_id = ?",
                   [(p,) for p, d in timers.items() if d is None] + dropped)
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('checkpoint', ?)",
               (seq,))


def _owners(db: sqlite3.Connection, table: str, column: str, ids: Sequence[str]
            ) -> dict[str, int]:
    """The seq that claimed each of these ids, for those the store holds."""
    found: dict[str, int] = {}
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        marks = ",".join("?" * len(part))
        found.update(db.execute(
            f"SELECT {column}, seq FROM {table} WHERE {column} IN ({marks})", part).fetchall())
    return found


def _taken(mine: dict[str, int], held: dict[str, int], key: str, seq: int) -> bool:
    """Claim `key` for `seq` in `mine` (this transaction's claims) unless it or `held` (the
    store's) gives it to another seq already: True when it does."""
    owner = mine.get(key)
    if owner is None:
        owner = held.get(key)
    if owner is None:
        mine[key] = seq
        return False
    return owner != seq


def _put_accounts(db: sqlite3.Connection, updates: Sequence[AccountUpdate]) -> None:
    for account_id, traits, ts, member in updates:
        row = db.execute("SELECT traits FROM accounts WHERE id = ?", (account_id,)).fetchone()
        merged = {**msgspec.json.decode(row[0]), **traits} if row else traits
        db.execute(
            "INSERT INTO accounts (id, traits, first_seen, last_seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET traits = excluded.traits, "
            "first_seen = min(first_seen, excluded.first_seen), "
            "last_seen = max(last_seen, excluded.last_seen)",
            (account_id, msgspec.json.encode(merged), ts, ts))
        db.execute("INSERT OR IGNORE INTO account_members (account_id, member, since) "
                   "VALUES (?, ?, ?)", (account_id, member, ts))


def _put_effects(db: sqlite3.Connection, messages: Sequence[OutboxRow],
                 journal: Sequence[JournalEntry]) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO outbox (id, scenario, profile_id, arm, channel, due, next_at, "
        "body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ((m[0], m[1], m[2], m[3], m[4], m[5], m[5], m[6]) for m in messages))
    db.executemany("INSERT OR IGNORE INTO journal (id, scenario, profile_id, arm, kind, ts, "
                   "value, ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", journal)


def _append(db: sqlite3.Connection, rows: Sequence[LogRow]) -> None:
    db.executemany("INSERT INTO events (seq, customer_id, ts, received_at, payload, prev) "
                   "VALUES (?, ?, ?, ?, ?, ?)", rows)


def _set_aside(db: sqlite3.Connection, seq: int, error: str, at: float) -> None:
    db.execute("INSERT OR REPLACE INTO set_aside (seq, error, at) VALUES (?, ?, ?)",
               (seq, error, at))


class Transaction(EndsOnExit):
    """One group commit on the store's connection, which it holds locked until it ends; what it
    writes waits in memory until `commit` (see the module's note). What a caller passes in is
    kept as it is until then: callers hand over lists they do not change afterwards."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._db = store._conn  # written at commit, once the batch landing before is durable
        self._open = True
        # the batch landing meanwhile, if one is (`_sqlite_landing`): it counts as committed
        self._landing = landing = store._landing
        if landing is not None:
            self._next = landing.next_seq
        else:
            row = self._db.execute("SELECT max(seq) FROM events").fetchone()
            self._next = int(row[0] or 0) + 1
        self._ids: dict[str, int] = {}  # message ids claimed here, with their seqs
        self._orders: dict[str, int] = {}  # order ids the same way
        self._writes: list[tuple[Write, tuple[object, ...]]] = []

    def next_seq(self) -> int:
        return self._next

    def claim(self, message_ids: Sequence[str], first_seq: int) -> set[int]:
        mine = self._ids
        held = self._held("message_ids", "message_id",
                          [m for m in dict.fromkeys(message_ids) if m not in mine])
        return {i for i, mid in enumerate(message_ids)
                if _taken(mine, held, mid, first_seq + i)}

    def claim_orders(self, orders: Sequence[tuple[str, int]]) -> set[int]:
        if not orders:
            return set()
        mine = self._orders
        held = self._held("order_ids", "order_id",
                          [o for o in dict.fromkeys(o for o, _ in orders) if o not in mine])
        return {seq for order_id, seq in orders if _taken(mine, held, order_id, seq)}

    def _held(self, table: str, column: str, ids: list[str]) -> dict[str, int]:
        """The ids the store holds, with the seqs that claimed them: those committed, and
        those of the batch landing, if one is."""
        found = _owners(self._store._reads(), table, column, ids)
        landing = self._landing
        if landing is not None:
            theirs = landing.ids if table == "message_ids" else landing.orders
            found.update((i, theirs[i]) for i in ids if i in theirs)
        return found

    def append(self, rows: Sequence[LogRow]) -> None:
        if not rows:
            return
        if rows[0][0] < self._next:
            raise StoreError(f"log position {rows[0][0]} is taken (next is {self._next})")
        self._next = rows[-1][0] + 1
        self._writes.append((_append, (rows,)))

    def set_aside(self, seq: int, error: str, at: float) -> None:
        self._writes.append((_set_aside, (seq, error, at)))

    def put_accounts(self, updates: Sequence[AccountUpdate]) -> None:
        if updates:
            self._writes.append((_put_accounts, (updates,)))

    def put_effects(self, messages: Sequence[OutboxRow], journal: Sequence[JournalEntry]) -> None:
        if messages or journal:
            self._writes.append((_put_effects, (messages, journal)))

    def put_state(self, seq: int, profiles: dict[str, bytes | None],
                  identities: dict[str, str], merges: Sequence[Merge],
                  changes: Sequence[SegmentChange] = (),
                  timers: dict[str, float | None] | None = None) -> None:
        self._writes.append((write_state, (seq, profiles, identities, merges, changes, timers)))

    def commit(self) -> None:
        if not self._open:
            raise RuntimeError("the transaction has ended")
        self._open = False
        store = self._store
        try:
            self._settle()
            if not (self._ids or self._orders or self._writes):
                return
            self._write()
            self._db.execute("COMMIT")
        except BaseException as exc:
            self._undo(exc)
            raise
        finally:
            store._lock.release()
        store._committed()

    def commit_later(self) -> Future[None]:
        """Write the batch and let its `COMMIT` finish on the commit thread
        (`_sqlite_landing`); the future is done when it is durable."""
        if not self._open:
            raise RuntimeError("the transaction has ended")
        store = self._store
        if store._reader is None or not (self._ids or self._orders or self._writes):
            return super().commit_later()  # in place: a store in memory, or nothing to write
        self._open = False
        try:
            self._settle()
            self._write()
        except BaseException as exc:
            try:
                self._undo(exc)
            finally:
                store._lock.release()
            raise
        landing = Landing(self._next, self._ids, self._orders)
        for write, args in self._writes:  # what reads must find before it is durable
            if write is write_state:
                landing.profiles.update(args[1])  # type: ignore[call-overload]
                landing.identities.update(args[2])  # type: ignore[call-overload]
        try:
            store._land(landing)
        finally:
            store._lock.release()
        return landing.durable

    def _settle(self) -> None:
        """Wait for the batch landing before this one: if it failed, this one, built on it (its
        positions and claims), fails too."""
        self._store.settle()
        landing = self._landing
        if landing is not None and landing.durable.exception() is not None:
            raise StoreError(f"the group commit before this one failed: "
                             f"{landing.durable.exception()}")

    def _write(self) -> None:
        """Everything but the `COMMIT`, in one write transaction."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO message_ids (message_id, seq) VALUES (?, ?)",
                       self._ids.items())
        db.executemany("INSERT INTO order_ids (order_id, seq) VALUES (?, ?)",
                       self._orders.items())
        for write, args in self._writes:
            write(db, *args)

    def _undo(self, exc: BaseException) -> None:
        """The commit failed: keep none of it (a StoreError when another writer took a key)."""
        db = self._db
        if db.in_transaction:
            db.execute("ROLLBACK")
        _log.error("group commit failed; none of it was kept",
                   extra={"error": f"{type(exc).__name__}: {exc}"})
        if isinstance(exc, sqlite3.IntegrityError):  # a key another writer took meanwhile
            raise StoreError(f"the commit conflicts with another writer: {exc}") from exc

    def rollback(self) -> None:
        if not self._open:
            return
        self._open = False
        self._writes.clear()
        self._store._lock.release()
