"""The SQLite backend's group commit: a short write transaction at its end.

A batch's transaction lasts while the engine runs the batch: it claims message and order ids,
reads records, runs the pipeline, then appends the events with their effects and some records.
Holding SQLite's write lock all that time would leave no moment between commits when every
page of the WAL is copied into the database, and only a write transaction that *begins* at
such a moment writes the WAL from its start again (`_wal`). So this transaction writes nothing
until `commit`: its writes wait in memory, in order, table by table, and go in one `BEGIN
IMMEDIATE` ... `COMMIT`, a few milliseconds of lock for a batch that took hundreds. `commit`
writes them row by row in place; `commit_later` hands the `COMMIT` to the commit thread, and
the writes too, as one statement a table, where that thread gets the GIL back quickly
(`_sqlite_bulk`, `_sqlite_landing`).

Claims are decided when asked, from the ids the store holds (message ids through its index in
memory, `_claims`; order ids read then, outside any write transaction) and those this
transaction claimed already. The store's lock, held from `transaction()` to the end, keeps the
process's other writers out meanwhile, and the writer's lock file keeps other processes out;
the inserts are plain inserts all the same, so a log position or an order id another writer
took anyway fails the commit instead of being written twice.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import msgspec

from .._errors import StoreError
from ._claims import Written
from ._rows import (
    AccountUpdate,
    JournalChain,
    JournalEntry,
    LogRow,
    Merge,
    OutboxRow,
    SegmentChange,
    final_memberships,
)
from ._sqlite_bulk import Bulk, Rows, run, statements
from ._sqlite_landing import Landing, hands_over
from ._tx import EndsOnExit

if TYPE_CHECKING:
    from .sqlite import SQLiteStore

CHUNK = 900
"""Parameters per `IN (...)` query."""

_log = logging.getLogger("intently.store")

Write = Callable[..., list[Rows]]
"""A deferred write: called with its arguments at commit, it gives the rows to write."""

_Account = list[Any]
"""An account's traits as merged so far, its first and its last time seen."""


def _bulk(table: str, columns: str, kinds: str, verb: str = "INSERT", tail: str = "") -> Bulk:
    """An insert of rows into `table` (`verb`: INSERT OR REPLACE, ...)."""
    marks = ", ".join("?" * len(kinds))
    where = " WHERE true" if tail else ""  # (an upsert after a SELECT needs a WHERE)
    return Bulk(f"{verb} INTO {table} ({columns}) SELECT {{}} FROM json_each(?1) AS j{where}{tail}",
                kinds, f"{verb} INTO {table} ({columns}) VALUES ({marks}){tail}")


def _deletes(table: str, columns: str, kinds: str) -> Bulk:
    """A delete of the rows with these keys from `table`."""
    keys = " AND ".join(f"{c} = ?" for c in columns.split(", "))
    return Bulk(f"DELETE FROM {table} WHERE ({columns}) IN (SELECT {{}} FROM json_each(?1) AS j)",
                kinds, f"DELETE FROM {table} WHERE {keys}")


_PROFILES = _bulk("profiles", "id, body, seq", "tbn", tail=" ON CONFLICT (id) DO UPDATE SET "
                  "body = excluded.body, seq = excluded.seq")
_PROFILES_GONE = _deletes("profiles", "id", "t")
_IDENTITIES = _bulk("identities", "key, profile_id", "tt", "INSERT OR REPLACE")
_MERGES = _bulk("merges", "into_id, from_id, reason, ts, head", "tttnn")
_CHANGES = _bulk("segment_changes", "segment, profile_id, entered, ts", "ttnn")
_MEMBERS = _bulk("segment_members", "segment, profile_id, since", "ttn", "INSERT OR REPLACE")
_MEMBERS_GONE = _deletes("segment_members", "segment, profile_id", "tt")
# A record merged away leaves every segment it was in. The table's key is (segment,
# profile_id): by `profile_id` alone each record read the whole table (9 ms a record at
# 200,000 customers, written by a walk's catch-up 2.9 s for one commit); instead its rows are
# looked up by the key, in each segment the table holds (a handful, found by a loose scan of
# the key's first column).
_SEGMENTS = ("WITH RECURSIVE s(name) AS (SELECT min(segment) FROM segment_members UNION ALL "
             "SELECT (SELECT min(segment) FROM segment_members WHERE segment > s.name) FROM s "
             "WHERE s.name IS NOT NULL) ")
_MEMBERS_DROPPED = Bulk(
    "DELETE FROM segment_members WHERE (segment, profile_id) IN (" + _SEGMENTS
    + "SELECT s.name, {} FROM s, json_each(?1) AS j WHERE s.name IS NOT NULL)", "t",
    "DELETE FROM segment_members WHERE (segment, profile_id) IN (" + _SEGMENTS
    + "SELECT name, ?1 FROM s WHERE name IS NOT NULL)")
_TIMERS = _bulk("timers", "profile_id, due", "tn", "INSERT OR REPLACE")
_TIMERS_GONE = _deletes("timers", "profile_id", "t")
_CHECKPOINT = _bulk("meta", "key, value", "tn", "INSERT OR REPLACE")
_CLAIMS = _bulk("claims", "id, hashes, ids", "nbt")
_ORDERS = _bulk("order_ids", "order_id, seq", "tn")
_EVENTS = _bulk("events", "seq, customer_id, ts, received_at, payload, prev", "ntnnbn")
_OUTBOX = _bulk("outbox", "id, scenario, profile_id, arm, channel, due, next_at, body",
                "tttttnnb", "INSERT OR IGNORE")
_JOURNAL = _bulk("journal", "rowid, id, scenario, profile_id, arm, kind, ts, value, ref",
                 "ntttttnnt", "INSERT OR IGNORE")  # not chained (`seq` 0): unique by record, id
_JOURNAL_CHAINED = _bulk("journal", "rowid, id, scenario, profile_id, arm, kind, ts, value, ref, "
                         "prev, seq", "ntttttnntnn")
_ACCOUNTS = _bulk("accounts", "id, traits, first_seen, last_seen", "tbnn", tail=(
    " ON CONFLICT (id) DO UPDATE SET traits = excluded.traits, "
    "first_seen = min(first_seen, excluded.first_seen), "
    "last_seen = max(last_seen, excluded.last_seen)"))
_ACCOUNT_MEMBERS = _bulk("account_members", "account_id, member, since", "ttn",
                         "INSERT OR IGNORE")
_SET_ASIDE = _bulk("set_aside", "seq, error, at", "ntn", "INSERT OR REPLACE")
_MARKS = _bulk("log_marks", "seq, received", "nn", "INSERT OR REPLACE")


def _some(*writes: Rows | None) -> list[Rows]:
    return [w for w in writes if w is not None]


def state_rows(seq: int, profiles: dict[str, bytes | None], identities: dict[str, str],
               merges: Sequence[Merge], changes: Sequence[SegmentChange],
               timers: dict[str, float | None] | None) -> list[Rows]:
    """The rows of records, identities, merges, segment changes and timers, and of the
    position recovery replays from."""
    dropped = [(pid,) for pid, body in profiles.items() if body is None]
    upserts, deletes = final_memberships(changes)  # the last change of each record holds
    timers = timers or {}
    return _some(
        _PROFILES.of([(pid, body, seq) for pid, body in profiles.items() if body is not None]),
        _PROFILES_GONE.of(dropped),
        _IDENTITIES.of(list(identities.items())),
        _MERGES.of([(m.into_id, m.from_id, m.reason, m.ts, m.head) for m in merges]),
        _CHANGES.of([(c.segment, c.profile_id, int(c.entered), c.ts) for c in changes]),
        _MEMBERS.of(upserts),
        _MEMBERS_GONE.of(deletes),
        _MEMBERS_DROPPED.of(dropped),
        _TIMERS.of([(p, d) for p, d in timers.items() if d is not None]),
        _TIMERS_GONE.of([(p,) for p, d in timers.items() if d is None] + dropped),
        _CHECKPOINT.of([("checkpoint", seq)]))


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


def _effects(messages: Sequence[OutboxRow], journal: Sequence[tuple[Any, ...]],
             chained: Sequence[tuple[Any, ...]]) -> list[Rows]:
    return _some(
        _OUTBOX.of([(m[0], m[1], m[2], m[3], m[4], m[5], m[5], m[6]) for m in messages]),
        _JOURNAL.of(journal), _JOURNAL_CHAINED.of(chained))


def _append(rows: Sequence[LogRow], mark: tuple[int, float] | None) -> list[Rows]:
    return _some(_EVENTS.of(rows), _MARKS.of([mark]) if mark is not None else None)


def _set_aside(seq: int, error: str, at: float) -> list[Rows]:
    return _some(_SET_ASIDE.of([(seq, error, at)]))


def _accounts(merged: dict[str, _Account], members: Sequence[tuple[str, str, float]]
              ) -> list[Rows]:
    return _some(
        _ACCOUNTS.of([(account_id, msgspec.json.encode(traits), first, last)
                      for account_id, (traits, first, last) in merged.items()]),
        _ACCOUNT_MEMBERS.of(members))


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
        self._hashes: dict[str, int] = {}  # their hashes (`_claims`)
        self._collided: set[str] = set()  # those whose hash another id holds
        self._written: Written | None = None  # their rows, once the commit writes them
        self._orders: dict[str, int] = {}  # order ids the same way
        self._writes: list[tuple[Write, tuple[object, ...]]] = []
        self._accounts: dict[str, _Account] = {}  # the accounts' rows, merged here
        self._members: list[tuple[str, str, float]] = []
        self._journal_next = 0  # the next journal row's number, once a row asked for it

    def next_seq(self) -> int:
        return self._next

    def claim(self, message_ids: Sequence[str], first_seq: int) -> set[int]:
        mine = self._ids
        asked = [m for m in dict.fromkeys(message_ids) if m not in mine]
        store = self._store
        held = store._claims.held(store._reads(), asked, self._hashes, self._collided)
        landing = self._landing
        if landing is not None:
            theirs = landing.ids
            held.update((i, theirs[i]) for i in asked if i in theirs)
        return {i for i, mid in enumerate(message_ids)
                if _taken(mine, held, mid, first_seq + i)}

    def claim_orders(self, orders: Sequence[tuple[str, int]]) -> set[int]:
        if not orders:
            return set()
        mine = self._orders
        held = self._held_orders([o for o in dict.fromkeys(o for o, _ in orders) if o not in mine])
        return {seq for order_id, seq in orders if _taken(mine, held, order_id, seq)}

    def _held_orders(self, ids: list[str]) -> dict[str, int]:
        """The order ids the store holds, with the seqs that claimed them: those committed,
        and those of the batch landing, if one is. Only ids the store may hold are looked up
        (`_keyfilter`): most are new."""
        known = self._store._known_orders()
        if known is not None:
            ids = [i for i, maybe in zip(ids, known.may_hold(ids), strict=True) if maybe]
        found = _owners(self._store._reads(), "order_ids", "order_id", ids)
        landing = self._landing
        if landing is not None:
            found.update((i, landing.orders[i]) for i in ids if i in landing.orders)
        return found

    def append(self, rows: Sequence[LogRow]) -> None:
        if not rows:
            return
        if rows[0][0] < self._next:
            raise StoreError(f"log position {rows[0][0]} is taken (next is {self._next})")
        self._next = rows[-1][0] + 1
        self._writes.append((_append, (rows, self._store._marks.add(rows))))

    def set_aside(self, seq: int, error: str, at: float) -> None:
        self._writes.append((_set_aside, (seq, error, at)))

    def put_accounts(self, updates: Sequence[AccountUpdate]) -> None:
        """Traits merge into what the account holds, read now: after the batch landing, if
        one is, is durable (`group` calls are rare; the merge is the store's, in Python)."""
        if not updates:
            return
        if not self._accounts:
            self._settle()
            self._writes.append((_accounts, (self._accounts, self._members)))
        merged = self._accounts
        for account_id, traits, ts, member in updates:
            row = merged.get(account_id)
            if row is None:
                held = self._db.execute("SELECT traits FROM accounts WHERE id = ?",
                                        (account_id,)).fetchone()
                row = merged[account_id] = [msgspec.json.decode(held[0]) if held else {}, ts, ts]
            row[0] = {**row[0], **traits}
            row[1], row[2] = min(row[1], ts), max(row[2], ts)
            self._members.append((account_id, member, ts))

    def put_effects(self, messages: Sequence[OutboxRow], journal: Sequence[JournalEntry],
                    chain: JournalChain | None = None) -> dict[str, int]:
        """Every journal row is numbered here, in order (the commit thread may still be
        writing the batch before). `journal` is kept once by record and id
        (`journal_unchained`: a row kept before leaves its number unused); the chain's rows
        are each linked to its record's row before, and a replay's rows the store kept
        already are not written again (their numbers become the records' heads). Returns each
        record's newest row."""
        chained = chain.rows if chain is not None else ()
        if not (journal or chained):
            if messages:
                self._writes.append((_effects, (messages, (), ())))
            return {}
        n = self._journal_next or self._first_journal()
        once = [(n + i, *entry) for i, entry in enumerate(journal)]
        n += len(once)
        if chain is None or not chained:
            self._journal_next = n
            self._writes.append((_effects, (messages, once, ())))
            return {}
        heads: dict[str, int] = {}
        before = chain.heads
        seq = max(1, chain.position)
        rows: list[tuple[Any, ...]] = []
        if chain.replayed_after is None:  # (ids unique by construction: nothing to look up)
            for entry in chained:
                pid = entry[2]
                rows.append((n, *entry, heads.get(pid) or before.get(pid, 0), seq))
                heads[pid] = n
                n += 1
        else:
            kept = self._kept(chained, chain.replayed_after)
            for entry in chained:
                pid = entry[2]
                held = kept.get((pid, entry[0]))
                if held is not None:  # kept before the replay
                    heads[pid] = held
                    continue
                rows.append((n, *entry, heads.get(pid) or before.get(pid, 0), seq))
                heads[pid] = n
                n += 1
        self._journal_next = n
        self._writes.append((_effects, (messages, once, rows)))
        return heads

    def _first_journal(self) -> int:
        """The number the next journal row takes: after the batch landing, if it wrote any,
        else after the rows committed."""
        landing = self._landing
        if landing is not None and landing.next_journal:
            return landing.next_journal
        row = self._store._reads().execute("SELECT max(rowid) FROM journal").fetchone()
        return int(row[0] or 0) + 1

    def _kept(self, journal: Sequence[JournalEntry], after: int) -> dict[tuple[str, str], int]:
        """Which of these rows (record, id) the store holds, with their numbers: among the rows
        logged after position `after` (the newest, read back until one from before it), and
        among those not chained (rows from before schema 7)."""
        self._settle()
        wanted = {(e[2], e[0]) for e in journal}
        found: dict[tuple[str, str], int] = {}
        db = self._db
        rows = db.execute("SELECT rowid, profile_id, id, seq FROM journal ORDER BY rowid DESC")
        reached = False
        while not reached and (part := rows.fetchmany(1000)):
            for n, pid, rid, seq in part:
                if 0 < seq <= after:
                    reached = True
                    break
                if (pid, rid) in wanted:
                    found[(pid, rid)] = n
        rows.close()
        for key in wanted - found.keys():
            row = db.execute("SELECT rowid FROM journal WHERE profile_id = ? AND id = ? "
                             "AND seq = 0", key).fetchone()
            if row is not None:
                found[key] = int(row[0])
        return found

    def put_state(self, seq: int, profiles: dict[str, bytes | None],
                  identities: dict[str, str], merges: Sequence[Merge],
                  changes: Sequence[SegmentChange] = (),
                  timers: dict[str, float | None] | None = None) -> None:
        keys = self._store._keys
        if keys is not None:  # the filter takes them now (`_keyfilter`)
            keys.stage(list(identities))
        self._writes.append((state_rows,
                             (seq, profiles, identities, merges, changes, timers)))

    def commit(self) -> None:
        if not self._open:
            raise RuntimeError("the transaction has ended")
        self._open = False
        store = self._store
        try:
            self._settle()
            if not (self._ids or self._orders or self._writes):
                return
            self._write(self._rows())
            self._db.execute("COMMIT")
            self._index_claims()
        except BaseException as exc:
            self._undo(exc)
            raise
        finally:
            store._release()
        store._committed()

    def commit_later(self, *, hand_over: bool = True) -> Future[None]:
        """Let the batch's `COMMIT` finish on the commit thread, which writes the batch too where
        that is quicker (`_sqlite_landing`) and the caller lets it (`hand_over`); the future is
        done when it is durable."""
        if not self._open:
            raise RuntimeError("the transaction has ended")
        store = self._store
        if store._reader is None or not (self._ids or self._orders or self._writes):
            # in place: a store in memory, or nothing to write
            return super().commit_later(hand_over=hand_over)
        self._open = False
        try:
            self._settle()
            writes = self._rows()
            handed = statements(writes) if hand_over and hands_over() else []
            if not handed:
                self._write(writes)
        except BaseException as exc:
            try:
                self._undo(exc)
            finally:
                store._release()
            raise
        landing = Landing(self._next, self._ids, self._orders, handed,
                          next_journal=self._journal_next)
        for write, args in self._writes:  # what reads must find before it is durable
            if write is state_rows:
                landing.profiles.update(args[1])  # type: ignore[call-overload]
                landing.identities.update(args[2])  # type: ignore[call-overload]
        try:
            store._land(landing)
            # the index takes the claims now: a read finds them in the landing until it is
            # durable, and verifies what the index gives (`_claims`), should it fail
            self._index_claims()
        finally:
            store._release()
        return landing.durable

    def _settle(self) -> None:
        """Wait for the batch landing before this one: if it failed, this one, built on it (its
        positions and claims), fails too."""
        self._store.settle()
        landing = self._landing
        if landing is not None and landing.durable.exception() is not None:
            raise StoreError(f"the group commit before this one failed: "
                             f"{landing.durable.exception()}")

    def _rows(self) -> list[Rows]:
        """Everything the commit writes, table by table (`_sqlite_bulk`)."""
        self._written = self._store._claims.written(self._ids, self._hashes)
        out = _some(_CLAIMS.of(self._written.rows),
                    _ORDERS.of(list(self._orders.items())))
        for write, args in self._writes:
            out += write(*args)
        return out

    def _index_claims(self) -> None:
        """The indexes in memory take the batch's message ids and order ids."""
        store = self._store
        if self._written is not None:
            store._claims.add(self._written, self._collided)
        if self._orders and store._order_ids is not None:
            store._order_ids.add(list(self._orders))

    def _write(self, writes: list[Rows]) -> None:
        """Everything but the `COMMIT`, in one write transaction, on this thread."""
        self._store._before_write()
        self._db.execute("BEGIN IMMEDIATE")
        run(self._db, writes)

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
        self._store._release()
