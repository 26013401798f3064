"""The embedded backend: one SQLite file in WAL mode.

Events go to an append-only table in group commits; `claims` (a commit's message ids a row,
appended in log order, with a hash index in memory: `_claims`) makes ingestion idempotent;
golden records are msgpack blobs written at checkpoints.

Each event row points back to the same record's previous event (`prev`), so a record's
timeline is a walk back through the log from its latest event, which the record keeps: no
per-customer index to write per event or to build at checkpoints. (Databases written before
keep their `customer_events` index for the events they held.) Scenario journal rows whose ids
are unique by construction do the same since schema 7 (`journal.prev`, from
`Profile.journal_head`): an index by record, of random keys, cost a page written to the WAL for
most rows once the population outgrew the page cache. A replay's are recognised by id among
the rows logged after its start (`seq`); rows that may come again with the same id, and rows
written before schema 7, keep a unique index by record and id (`journal_unchained`, `seq` 0).
The transaction numbers every row (`rowid`), so that the next batch can number its own while
the commit thread still writes this one.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from .._errors import StoreError
from . import _claims, _claims_snapshot
from . import _sqlite_privacy as _privacy
from ._keyfilter import KeyFilter
from ._marks import Marks
from ._rows import (
    Account,
    AccountMember,
    Backlog,
    Erasure,
    JournalCount,
    JournalEntry,
    Member,
    Merge,
    Movement,
    OutboxItem,
    PrivacyRequest,
    RecordEvent,
    SegmentChange,
    SetAside,
    StoredEvent,
    Subject,
    Suppression,
)
from ._sqlite_bulk import run
from ._sqlite_landing import Landing, finish
from ._sqlite_snapshots import SnapshotReads
from ._sqlite_tx import CHUNK, Transaction, state_rows
from ._wal import SAFETY_PAGES, WalCheckpointer

SCHEMA_VERSION = 7
_JOURNAL_COLUMNS = "id, scenario, profile_id, arm, kind, ts, value, ref"
_log = logging.getLogger("intently.store")
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    customer_id TEXT NOT NULL,
    ts REAL NOT NULL,
    received_at REAL NOT NULL,
    payload BLOB NOT NULL,
    prev INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS log_marks (
    seq INTEGER PRIMARY KEY,  -- every event up to this position ...
    received REAL NOT NULL  -- ... was received at this time or before (`_marks`)
);
CREATE TABLE IF NOT EXISTS customer_events (
    customer_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (customer_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS claims (
    id INTEGER PRIMARY KEY,  -- numbered in the order commits claim (`_claims`)
    hashes BLOB NOT NULL,  -- each log position and its id's hash, int64 little-endian, in order
    ids TEXT NOT NULL  -- the ids, a JSON array in the same order
);
CREATE TABLE IF NOT EXISTS order_ids (
    order_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS profiles (
    id TEXT PRIMARY KEY,
    body BLOB NOT NULL,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS identities (
    key TEXT PRIMARY KEY,
    profile_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS merges (
    id INTEGER PRIMARY KEY,
    into_id TEXT NOT NULL,
    from_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    ts REAL NOT NULL,
    head INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS merges_into ON merges (into_id);
CREATE INDEX IF NOT EXISTS merges_from ON merges (from_id);
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
);
CREATE TABLE IF NOT EXISTS segments (name TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS segment_members (
    segment TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    since REAL NOT NULL,
    PRIMARY KEY (segment, profile_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS segment_changes (
    id INTEGER PRIMARY KEY,
    segment TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    entered INTEGER NOT NULL,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS segment_changes_by_segment ON segment_changes (segment, ts);
CREATE TABLE IF NOT EXISTS timers (profile_id TEXT PRIMARY KEY, due REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    scenario TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    arm TEXT NOT NULL,
    channel TEXT NOT NULL,
    due REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    body BLOB NOT NULL,
    created INTEGER,  -- unused: insertion order is the rowid (schema 3 and before filled it)
    owner TEXT NOT NULL DEFAULT '',
    lease_until REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_todo ON outbox (status, next_at);
CREATE INDEX IF NOT EXISTS outbox_by_profile ON outbox (profile_id);
CREATE INDEX IF NOT EXISTS outbox_by_scenario ON outbox (scenario);
CREATE TABLE IF NOT EXISTS journal (
    id TEXT NOT NULL,
    scenario TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    arm TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts REAL NOT NULL,
    value REAL NOT NULL,
    ref TEXT NOT NULL,
    prev INTEGER NOT NULL DEFAULT 0,  -- the same record's row before (0: none; see the note)
    seq INTEGER NOT NULL DEFAULT 0  -- the log position it came from (0: not chained)
);
CREATE INDEX IF NOT EXISTS journal_by_scenario ON journal (scenario, arm, kind);
CREATE UNIQUE INDEX IF NOT EXISTS journal_unchained ON journal (profile_id, id) WHERE seq = 0;
CREATE TABLE IF NOT EXISTS set_aside (
    seq INTEGER PRIMARY KEY,
    error TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    traits BLOB NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS account_members (
    account_id TEXT NOT NULL,
    member TEXT NOT NULL,
    since REAL NOT NULL,
    PRIMARY KEY (account_id, member)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS account_members_by_member ON account_members (member);
CREATE TABLE IF NOT EXISTS scenarios (name TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
"""


@contextmanager
def _migration(db: sqlite3.Connection) -> Iterator[None]:
    """A schema change in one write transaction: all of it, or none of it."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _open_marks(db: sqlite3.Connection) -> Marks:
    """The writer's view of the log's marks (`_marks`): the last one, and the log after it
    read for its highest receive time and marked where it ends (a few thousand events at
    most; a log written before marks existed is read whole, once)."""
    row = db.execute("SELECT seq, received FROM log_marks ORDER BY seq DESC LIMIT 1").fetchone()
    seq, received = (int(row[0]), float(row[1])) if row else (0, 0.0)
    last, top = db.execute("SELECT max(seq), max(received_at) FROM events WHERE seq > ?",
                           (seq,)).fetchone()
    if last is None:
        return Marks(seq, received)
    top = max(received, float(top))
    db.execute("INSERT OR REPLACE INTO log_marks (seq, received) VALUES (?, ?)", (last, top))
    return Marks(int(last), top)


def _migrate_from_1(db: sqlite3.Connection) -> None:
    """Schema 1 indexed the log per customer at checkpoints: index what came after the last
    one, then add the back pointers (older events stay reachable through the index)."""
    with _migration(db):
        row = db.execute("SELECT value FROM meta WHERE key = 'checkpoint'").fetchone()
        db.execute("INSERT OR IGNORE INTO customer_events (customer_id, seq) "
                   "SELECT customer_id, seq FROM events WHERE seq > ? ORDER BY customer_id, seq",
                   (int(row[0]) if row else 0,))
        db.execute("ALTER TABLE events ADD COLUMN prev INTEGER NOT NULL DEFAULT 0")
        db.execute("ALTER TABLE merges ADD COLUMN head INTEGER NOT NULL DEFAULT 0")


def _migrate_from_2(db: sqlite3.Connection) -> None:
    """Schema 3 leases outbox messages to a dispatcher."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(outbox)")}
    if columns and "owner" not in columns:
        db.execute("ALTER TABLE outbox ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
        db.execute("ALTER TABLE outbox ADD COLUMN lease_until REAL NOT NULL DEFAULT 0")


def _migrate_from_3(db: sqlite3.Connection) -> None:
    """Schema 4 appends journal rows in the order they come (a rowid table) and keeps them
    unique per record: schema 3 clustered them by id, so that every commit rewrote pages all
    over a table that grows with every journey."""
    if not db.execute("SELECT 1 FROM sqlite_schema WHERE name = 'journal'").fetchone():
        return
    with _migration(db):
        db.execute("ALTER TABLE journal RENAME TO journal_3")
        db.execute("DROP INDEX IF EXISTS journal_by_scenario")
        db.execute("DROP INDEX IF EXISTS journal_by_profile")
        db.execute("CREATE TABLE journal (id TEXT NOT NULL, scenario TEXT NOT NULL, "
                   "profile_id TEXT NOT NULL, arm TEXT NOT NULL, kind TEXT NOT NULL, "
                   "ts REAL NOT NULL, value REAL NOT NULL, ref TEXT NOT NULL)")
        db.execute("INSERT INTO journal SELECT id, scenario, profile_id, arm, kind, ts, value, ref"
                   " FROM journal_3 ORDER BY ts, id")
        db.execute("DROP TABLE journal_3")


def _migrate_from_6(db: sqlite3.Connection) -> None:
    """Schema 7 chains each record's journal rows whose ids are unique by construction (see the
    module's note): the rows kept so far stay found, and unique, by record and id through a
    partial index (`seq` 0), which the kinds that may come again share."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(journal)")}
    if not columns or "seq" in columns:
        return
    with _migration(db):
        db.execute("ALTER TABLE journal ADD COLUMN prev INTEGER NOT NULL DEFAULT 0")
        db.execute("ALTER TABLE journal ADD COLUMN seq INTEGER NOT NULL DEFAULT 0")
        db.execute("DROP INDEX IF EXISTS journal_by_profile")
        db.execute("CREATE UNIQUE INDEX journal_unchained ON journal (profile_id, id) "
                   "WHERE seq = 0")


class SQLiteStore:
    """`durability="fsync"` (default) syncs the WAL on every commit: an acknowledged event
    survives power loss. `"process"` survives a crash of the process only, and is faster."""

    def __init__(self, path: str | Path = "intently.db", *, durability: str = "fsync",
                 readonly: bool = False) -> None:
        if durability not in ("fsync", "process"):
            raise ValueError("durability must be 'fsync' or 'process'")
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        self.readonly = readonly
        self._lockfile = None if readonly or self.path == ":memory:" else _writer_lock(self.path)
        if readonly:
            uri = f"file:{Path(self.path).resolve()}?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, isolation_level=None,
                                         check_same_thread=False)
        else:
            self._conn = sqlite3.connect(self.path, isolation_level=None,
                                         check_same_thread=False)
        self._lock = threading.RLock()
        # a batch whose COMMIT runs on the commit thread, and what reads while it does
        # (`_sqlite_landing`); a store in memory or read-only commits in place
        self._landing: Landing | None = None
        self._reader: sqlite3.Connection | None = None
        self._committer: ThreadPoolExecutor | None = None
        # the message ids, for the writer (`_claims`), saved when it closes (`_claims_snapshot`)
        self._claims = _claims.Claims(None if readonly or self.path == ":memory:" else
                                      _claims_snapshot.path_for(self.path))
        # the identity keys and order ids, for the writer, loaded when first asked (`_keyfilter`)
        self._keys: KeyFilter | None = None if readonly else KeyFilter()
        self._order_ids: KeyFilter | None = None if readonly else KeyFilter()
        self._marks = Marks()  # the log's receive times (`_marks`), read below for a writer
        db = self._conn
        db.execute("PRAGMA busy_timeout = 10000")
        if not readonly:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA secure_delete = ON")  # freed bytes are zeroed (erasure)
            db.execute(f"PRAGMA synchronous = {'FULL' if durability == 'fsync' else 'NORMAL'}")
        db.execute("PRAGMA cache_size = -65536")
        db.execute("PRAGMA temp_store = MEMORY")
        self._wal: WalCheckpointer | None = None
        if not readonly and self.path != ":memory:":
            db.execute(f"PRAGMA wal_autocheckpoint = {SAFETY_PAGES}")
        else:
            db.execute("PRAGMA wal_autocheckpoint = 16384")  # fewer, larger WAL checkpoints
        if not readonly:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path} was written by a newer Intently (schema {version})")
            if version == 1:
                _migrate_from_1(db)
            if 0 < version < 3:
                _migrate_from_2(db)
            if 0 < version < 4:
                _migrate_from_3(db)
            if 0 < version < 6:
                _claims.migrate(db)
            if 0 < version < 7:
                _migrate_from_6(db)
            db.executescript(_SCHEMA)
            db.executescript(_privacy.SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._marks = _open_marks(db)
            if self.path != ":memory:":
                self._wal = WalCheckpointer(self.path)
                self._reader = _read_only(self.path)
        # other threads' reads of records and identities (`snapshot_profile`); by the path,
        # not a closure over the store: a store its opener drops (an engine that failed to
        # open) is freed at once, with its writer's lock
        self._snapshots = SnapshotReads(partial(_read_only, self.path, 2048))

    @property
    def _db(self) -> sqlite3.Connection:
        """The write connection, once no commit is landing on it. Use it holding the store's
        lock: no commit starts landing then."""
        if self._landing is not None:
            self.settle()
        return self._conn

    def _reads(self) -> sqlite3.Connection:
        """Where reads go, holding the store's lock: the write connection once no commit is
        landing on it (its page cache, which the inserts keep warm, is the larger one), else
        the read connection, which the landing does not hold up (it covers what the landing
        writes itself). No landing starts while the lock is held."""
        landing = self._landing
        if self._reader is None or landing is None or landing.durable.done():
            return self._conn
        return self._reader

    def settle(self) -> None:
        """Wait until the batch landing on the commit thread is finished. Its writer is told
        with `StoreError` if it failed (nothing of it was kept); another thread only waits
        (the transactions built on a failed batch fail at their commit all the same)."""
        landing = self._landing
        if landing is None:
            return
        wait([landing.durable])
        with self._lock:  # a new landing starts only under the lock
            if self._landing is landing:
                self._landing = None
        if landing.owner == threading.get_ident():
            landing.durable.result()

    def _landed(self) -> Landing | None:
        """The batch landing, unless it failed: what reads find before it is durable."""
        landing = self._landing
        if landing is None or (landing.durable.done() and landing.durable.exception()):
            return None
        return landing

    def _release(self) -> None:
        """A transaction ends (committed, handed to the commit thread, or rolled back)."""
        if self._keys is not None:
            self._keys.pending = []  # in the table, or in the landing, or dropped
        self._lock.release()

    def _land(self, landing: Landing) -> None:
        """Called by the transaction holding the store's lock: its statements are written and
        committed on the commit thread."""
        if self._committer is None:
            self._committer = ThreadPoolExecutor(1, thread_name_prefix="intently-commit")
        self._landing = landing
        self._committer.submit(finish, self._conn, landing, self._committed, self._before_write)

    # -- the event log
    def transaction(self) -> Transaction:
        """The group commit: writes wait in memory and go in one short write transaction
        at its end (`_sqlite_tx`)."""
        self._lock.acquire()
        try:
            return Transaction(self)
        except BaseException:
            self._lock.release()
            raise

    # -- accounts
    def account(self, account_id: str) -> Account | None:
        with self._lock:
            row = self._db.execute("SELECT traits, first_seen, last_seen FROM accounts "
                                   "WHERE id = ?", (account_id,)).fetchone()
            if row is None:
                return None
            members = self._db.execute(
                "SELECT member, since FROM account_members WHERE account_id = ? "
                "ORDER BY since, member", (account_id,)).fetchall()
        return Account(account_id, msgspec.json.decode(row[0]), row[1], row[2],
                       list(map(AccountMember._make, members)))

    def accounts_of(self, keys: Sequence[str]) -> list[str]:
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(keys), CHUNK):
                part = list(keys[start : start + CHUNK])
                marks = ",".join("?" * len(part))
                found.update(r[0] for r in self._db.execute(
                    f"SELECT account_id FROM account_members WHERE member IN ({marks})", part))
        return sorted(found)

    def account_ids(self, limit: int = 100, offset: int = 0) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT id FROM accounts ORDER BY id LIMIT ? OFFSET ?",
                                    (limit, offset)).fetchall()
        return [r[0] for r in rows]

    def last_seq(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT max(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def read_log(self, after: int, batch: int = 5000) -> Iterator[list[StoredEvent]]:
        cursor = after
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT seq, ts, received_at, payload FROM events WHERE seq > ? "
                    "ORDER BY seq LIMIT ?",
                    (cursor, batch),
                ).fetchall()
            if not rows:
                return
            yield list(map(StoredEvent._make, rows))
            cursor = rows[-1][0]

    def events_since(self, ts: float, batch: int = 5000, until: int | None = None,
                     received_from: float | None = None) -> Iterator[list[RecordEvent]]:
        cursor = 0
        if received_from is not None:
            with self._lock:
                row = self._db.execute("SELECT max(seq) FROM log_marks WHERE received < ?",
                                       (received_from,)).fetchone()
            cursor = int(row[0] or 0)
        while True:
            with self._lock:
                db = self._db
                end = until if until is not None else int(
                    db.execute("SELECT max(seq) FROM events").fetchone()[0] or 0)
                first = db.execute("SELECT min(seq) FROM events WHERE seq > ?",
                                   (cursor,)).fetchone()[0]
                if first is None or first > end:
                    return
                cursor, stop = first - 1, min(end, first - 1 + batch)
                rows = db.execute(
                    "SELECT customer_id, payload, ts, received_at FROM events WHERE seq > ? "
                    "AND seq <= ? AND ts >= ? ORDER BY seq", (cursor, stop, ts)).fetchall()
            yield list(map(RecordEvent._make, rows))
            cursor = stop

    def timeline(self, record_ids: Sequence[str], limit: int = 100,
                 heads: Sequence[int] = ()) -> list[StoredEvent]:
        customer_ids = record_ids
        marks = ",".join("?" * len(customer_ids))
        with self._lock:
            stored = [h for (h,) in self._db.execute(
                f"SELECT head FROM merges WHERE from_id IN ({marks})", customer_ids)]
            starts = [h for h in {*heads, *stored} if h > 0]
            walk = ("WITH RECURSIVE back(seq, n) AS ("
                    f"  VALUES {','.join('(?, 1)' for _ in starts)}"
                    "  UNION ALL SELECT e.prev, back.n + 1 FROM events e"
                    "  JOIN back ON e.seq = back.seq WHERE e.prev > 0 AND back.n < ?) "
                    if starts else "")
            chain = "SELECT seq FROM back UNION " if starts else ""
            rows = self._db.execute(
                f"{walk}SELECT seq, ts, received_at, payload FROM events WHERE seq IN ("
                f"  {chain}SELECT seq FROM customer_events WHERE customer_id IN ({marks})"
                f") ORDER BY seq DESC LIMIT ?",
                (*starts, *([limit] if starts else []), *customer_ids, limit),
            ).fetchall()
        return list(map(StoredEvent._make, rows))

    def count_events(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    # -- events set aside
    def set_aside_seqs(self, after: int = 0) -> set[int]:
        with self._lock:
            return {s for (s,) in self._db.execute(
                "SELECT seq FROM set_aside WHERE seq > ?", (after,))}

    def set_aside_events(self, limit: int = 100) -> list[SetAside]:
        with self._lock:
            rows = self._db.execute(
                "SELECT e.seq, e.ts, e.received_at, e.payload, d.error, d.at FROM set_aside d "
                "JOIN events e ON e.seq = d.seq ORDER BY d.seq DESC LIMIT ?", (limit,)
            ).fetchall()
        return list(map(SetAside._make, rows))

    # -- the outbox
    _ITEM = ("id, scenario, profile_id, arm, channel, due, status, attempts, error, updated, "
             "body")

    def claim_due(self, now: float, owner: str, lease_s: float = 60.0, limit: int = 100
                  ) -> list[OutboxItem]:
        with self._lock:
            db = self._db  # inside the lock: no commit starts landing meanwhile
            db.execute("BEGIN IMMEDIATE")
            try:
                rows = db.execute(
                    f"SELECT {self._ITEM} FROM outbox WHERE (status = 'pending' AND next_at <= ?)"
                    " OR (status = 'sending' AND (lease_until <= ? OR owner = ?)) "
                    "ORDER BY next_at, rowid LIMIT ?", (now, now, owner, limit)).fetchall()
                db.executemany("UPDATE outbox SET status = 'sending', owner = ?, lease_until = ? "
                               "WHERE id = ?", ((owner, now + lease_s, r[0]) for r in rows))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return [OutboxItem(*r)._replace(status="sending") for r in rows]

    def mark(self, message_id: str, status: str, attempts: int, next_at: float, error: str,
             now: float) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET status = ?, attempts = ?, next_at = ?, error = ?, updated = ?, "
                "owner = '', lease_until = 0 WHERE id = ?",
                (status, attempts, next_at, error, now, message_id))

    def outbox(self, limit: int = 100, scenario: str | None = None,
               profile_id: str | None = None) -> list[OutboxItem]:
        where, args = _filters(scenario=scenario, profile_id=profile_id)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._ITEM} FROM outbox {where} ORDER BY due DESC, rowid DESC "
                "LIMIT ?", (*args, limit)).fetchall()
        return [OutboxItem(*r) for r in rows]

    def outbox_counts(self, scenario: str) -> dict[tuple[str, str], int]:
        with self._lock:
            rows = self._db.execute("SELECT arm, status, count(*) FROM outbox WHERE scenario = ?"
                                    " GROUP BY arm, status", (scenario,)).fetchall()
        return {(r[0], r[1]): r[2] for r in rows}

    def outbox_backlog(self, now: float) -> Backlog:
        with self._lock:
            counts = dict(self._db.execute(
                "SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
            due, oldest = self._db.execute(
                "SELECT count(*), min(next_at) FROM outbox WHERE status = 'pending' "
                "AND next_at <= ?", (now,)).fetchone()
        return Backlog(counts, due, oldest)

    def journal_counts(self, scenario: str) -> list[JournalCount]:
        with self._lock:
            rows = self._db.execute(
                "SELECT arm, kind, count(*), sum(value), count(DISTINCT profile_id) FROM journal "
                "WHERE scenario = ? GROUP BY arm, kind", (scenario,)).fetchall()
        return [JournalCount(*r) for r in rows]

    def journal(self, profile_id: str | None = None, scenario: str | None = None,
                limit: int = 100, heads: Sequence[int] = ()) -> list[JournalEntry]:
        if profile_id is not None and heads:  # the chains from the record's newest rows
            return self._journal_of(profile_id, scenario, limit, [h for h in heads if h > 0])
        where, args = _filters(scenario=scenario, profile_id=profile_id)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_JOURNAL_COLUMNS} FROM journal {where} ORDER BY ts DESC, id LIMIT ?",
                (*args, limit)).fetchall()
        return [JournalEntry(*r) for r in rows]

    def _journal_of(self, profile_id: str, scenario: str | None, limit: int,
                    starts: list[int]) -> list[JournalEntry]:
        """One record's rows: a walk back along its chains (at most `limit` rows each, unless
        a scenario is asked for), and its rows kept by id (`journal_unchained`: kinds that may
        come again, and rows from before schema 7)."""
        columns = _JOURNAL_COLUMNS
        also = " AND scenario = ?" if scenario is not None else ""
        extra = (scenario,) if scenario is not None else ()
        sql = f"SELECT {columns} FROM journal WHERE profile_id = ? AND seq = 0{also}"
        args: tuple[Any, ...] = (profile_id, *extra)
        if starts:
            sql = ("WITH RECURSIVE back(n, k) AS ("
                   f"  VALUES {','.join('(?, 1)' for _ in starts)}"
                   "  UNION ALL SELECT j.prev, back.k + 1 FROM journal j"
                   "  JOIN back ON j.rowid = back.n WHERE j.prev > 0 AND back.k < ?) "
                   f"{sql} UNION ALL SELECT {columns} FROM journal"
                   f" WHERE rowid IN (SELECT n FROM back) AND profile_id = ? AND seq > 0{also}")
            walk = limit if scenario is None else 1 << 40
            args = (*starts, walk, *args, profile_id, *extra)
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM ({sql}) ORDER BY ts DESC, id LIMIT ?",
                                    (*args, limit)).fetchall()
        return [JournalEntry(*r) for r in rows]

    def save_scenario(self, name: str, body: bytes | None) -> None:
        with self._lock:
            if body is None:
                self._db.execute("DELETE FROM scenarios WHERE name = ?", (name,))
            else:
                self._db.execute("INSERT OR REPLACE INTO scenarios (name, body) VALUES (?, ?)",
                                 (name, body))

    def load_scenarios(self) -> dict[str, bytes]:
        with self._lock:
            return dict(self._db.execute("SELECT name, body FROM scenarios").fetchall())

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             (key, value))

    # -- checkpointed state
    def checkpoint(self, seq: int, profiles: dict[str, bytes | None],
                   identities: dict[str, str], merges: Sequence[Merge],
                   changes: Sequence[SegmentChange] = (),
                   timers: dict[str, float | None] | None = None) -> None:
        with self._lock:
            db = self._db  # inside the lock: no commit starts landing meanwhile
            db.execute("BEGIN IMMEDIATE")
            try:
                if self._keys is not None:
                    self._keys.add(list(identities))
                run(db, state_rows(seq, profiles, identities, merges, changes, timers))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        self._committed()

    # -- segments
    def save_segment(self, name: str, body: bytes | None) -> None:
        with self._lock:
            if body is None:
                self._db.execute("DELETE FROM segments WHERE name = ?", (name,))
            else:
                self._db.execute("INSERT OR REPLACE INTO segments (name, body) VALUES (?, ?)",
                                 (name, body))

    def load_segments(self) -> dict[str, bytes]:
        with self._lock:
            return dict(self._db.execute("SELECT name, body FROM segments").fetchall())

    def segment_members(self, segment: str, limit: int = 1000, offset: int = 0
                        ) -> list[Member]:
        with self._lock:
            rows = self._db.execute(
                "SELECT profile_id, since FROM segment_members WHERE segment = ? "
                "ORDER BY profile_id LIMIT ? OFFSET ?", (segment, limit, offset)).fetchall()
        return list(map(Member._make, rows))

    def segment_sizes(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute(
                "SELECT segment, count(*) FROM segment_members GROUP BY segment").fetchall())

    def segment_changes(self, segment: str, since: float = 0.0) -> list[Movement]:
        with self._lock:
            rows = self._db.execute(
                "SELECT profile_id, entered, ts FROM segment_changes WHERE segment = ? AND ts >= ?"
                " ORDER BY ts, id", (segment, since)).fetchall()
        return [Movement(r[0], bool(r[1]), r[2]) for r in rows]

    def load_timers(self) -> dict[str, float]:
        with self._lock:
            return dict(self._db.execute("SELECT profile_id, due FROM timers").fetchall())

    def checkpoint_seq(self) -> int:
        with self._lock:
            return self._checkpoint_seq_locked()

    def _checkpoint_seq_locked(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'checkpoint'").fetchone()
        return int(row[0]) if row else 0

    def load_profile(self, profile_id: str) -> bytes | None:
        with self._lock:
            landing = self._landed()
            if landing is not None and profile_id in landing.profiles:
                return landing.profiles[profile_id]
            row = self._reads().execute("SELECT body FROM profiles WHERE id = ?",
                                        (profile_id,)).fetchone()
        return row[0] if row else None

    def snapshot_profile(self, profile_id: str) -> bytes | None:
        landing = self._landed()
        if landing is not None and profile_id in landing.profiles:
            return landing.profiles[profile_id]
        row = self._snapshot("SELECT body FROM profiles WHERE id = ?", profile_id)
        return row[0] if row else None

    def snapshot_identity(self, key: str) -> str | None:
        landing = self._landed()
        if landing is not None and key in landing.identities:
            return landing.identities[key]
        row = self._snapshot("SELECT profile_id FROM identities WHERE key = ?", key)
        return row[0] if row else None

    def _snapshot(self, query: str, arg: str) -> tuple[Any, ...] | None:
        """A read that does not wait for the writer (`_sqlite_snapshots`): a connection of
        the calling thread's own, where the database is a file another connection can open
        (a store in memory, or read-only, reads under the lock: no batch is written here
        then, or none for long)."""
        if self._reader is None:
            with self._lock:
                row: tuple[Any, ...] | None = self._conn.execute(query, (arg,)).fetchone()
            return row
        return self._snapshots.one(query, arg)

    def load_profiles(self, profile_ids: Sequence[str]) -> dict[str, bytes]:
        return self._many("SELECT id, body FROM profiles WHERE id IN ({})", profile_ids,
                          "profiles")

    def resolve_many(self, keys: Sequence[str]) -> dict[str, str]:
        with self._lock:
            known = self._known_keys()
            if known is not None:  # only the keys it may hold are asked for
                keys = [k for k, maybe in zip(keys, known.may_hold(keys), strict=True) if maybe]
            return self._many("SELECT key, profile_id FROM identities WHERE key IN ({})", keys,
                              "identities")

    def _known_keys(self) -> KeyFilter | None:
        """The writer's filter of the identity keys it holds, loaded the first time (under the
        lock: no commit lands meanwhile)."""
        landing = self._landed()
        return self._loaded(self._keys, "identities", "key",
                            landing.identities if landing is not None else {})

    def _known_orders(self) -> KeyFilter | None:
        """The writer's filter of the order ids it holds, the same way."""
        landing = self._landed()
        return self._loaded(self._order_ids, "order_ids", "order_id",
                            landing.orders if landing is not None else {})

    def _loaded(self, known: KeyFilter | None, table: str, column: str,
                landing: dict[str, Any]) -> KeyFilter | None:
        """`known`, loaded by a scan of the table's keys and those of the batch `landing`
        (not in the table yet), if it was not."""
        if known is None or known.loaded:
            return known
        started = time.perf_counter()
        db = self._reads()
        expected = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        rows = db.execute(f"SELECT {column} FROM {table}")

        def chunks() -> Iterator[list[str]]:
            while part := rows.fetchmany(CHUNK * 10):
                yield [key for key, in part]
            yield list(landing)

        known.load(chunks(), expected)
        _log.info("keys loaded into the writer's filter", extra={
            "table": table, "keys": expected, "filter_bytes": known.nbytes,
            "seconds": round(time.perf_counter() - started, 3)})
        return known

    def _many(self, query: str, values: Sequence[str], table: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        with self._lock:
            landing = self._landed()
            if landing is not None:  # what it writes, as it will be (None: deleted)
                newer: dict[str, Any] = getattr(landing, table)
                hits = {v: newer[v] for v in values if v in newer}
                if hits:
                    values = [v for v in values if v not in hits]
                    found.update((k, v) for k, v in hits.items() if v is not None)
            db = self._reads()
            for start in range(0, len(values), CHUNK):
                part = values[start : start + CHUNK]
                found.update(db.execute(query.format(",".join("?" * len(part))), part))
        return found

    def resolve(self, key: str) -> str | None:
        with self._lock:
            known = self._keys  # (one key does not pay for loading it: a scan of them all)
            if known is not None and known.loaded and not known.may_hold([key])[0]:
                return None
            landing = self._landed()
            if landing is not None and key in landing.identities:
                return landing.identities[key]
            row = self._reads().execute("SELECT profile_id FROM identities WHERE key = ?",
                                        (key,)).fetchone()
        return row[0] if row else None

    def resolve_any(self) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT key FROM identities LIMIT 1").fetchone()
        return row[0] if row else None

    def merges(self, profile_id: str) -> list[Merge]:
        with self._lock:
            rows = self._db.execute(
                "SELECT into_id, from_id, reason, ts, head FROM merges WHERE into_id = ? "
                "ORDER BY id",
                (profile_id,),
            ).fetchall()
        return [Merge(*row) for row in rows]

    def profile_ids(self, limit: int = 100, offset: int = 0, after: str | None = None
                    ) -> list[str]:
        with self._lock:
            if after is not None:
                rows = self._db.execute("SELECT id FROM profiles WHERE id > ? ORDER BY id "
                                        "LIMIT ?", (after, limit)).fetchall()
            else:
                rows = self._db.execute("SELECT id FROM profiles ORDER BY id LIMIT ? OFFSET ?",
                                        (limit, offset)).fetchall()
        return [r[0] for r in rows]

    def save_model(self, name: str, version: str, body: bytes) -> None:
        with self._lock:
            self._db.execute("INSERT INTO models (name, version, body) VALUES (?, ?, ?)",
                             (name, version, body))

    def load_model(self, name: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM models WHERE name = ? ORDER BY id DESC "
                                   "LIMIT 1", (name,)).fetchone()
        return row[0] if row else None

    def model_versions(self, name: str) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT version FROM models WHERE name = ? ORDER BY id",
                                    (name,)).fetchall()
        return [r[0] for r in rows]

    def count_profiles(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM profiles").fetchone()[0])

    # -- privacy
    def subject_keys(self, record_ids: Sequence[str]) -> list[str]:
        with self._lock:
            return _privacy.subject_keys(self._db, record_ids)

    def erase(self, subject: Subject, suppress: Sequence[Suppression],
              request: PrivacyRequest) -> Erasure:
        erased = self._write(lambda db: _privacy.erase(db, subject, suppress, request))
        self._empty_wal()
        return erased

    def suppress(self, suppress: Sequence[Suppression], request: PrivacyRequest) -> None:
        def run(db: sqlite3.Connection) -> None:
            _privacy.add_suppressions(db, suppress)
            _privacy.log_request(db, request)
        self._write(run)

    def log_request(self, request: PrivacyRequest) -> None:
        self._write(lambda db: _privacy.log_request(db, request))

    def unsuppress(self, digests: Sequence[str], request: PrivacyRequest) -> int:
        def run(db: sqlite3.Connection) -> int:
            _privacy.log_request(db, request)
            return _privacy.lift(db, digests)
        return self._write(run)

    def suppressions(self) -> list[Suppression]:
        with self._lock:
            return _privacy.suppressions(self._db)

    def privacy_log(self, limit: int = 100) -> list[PrivacyRequest]:
        with self._lock:
            return _privacy.privacy_log(self._db, limit)

    def rewrite_payloads(self, rows: Sequence[tuple[int, bytes]]) -> None:
        self._write(lambda db: _privacy.rewrite_payloads(db, rows))
        self._empty_wal()

    def rewrite_messages(self, rows: Sequence[tuple[str, bytes, str]]) -> None:
        self._write(lambda db: _privacy.rewrite_messages(db, rows))
        self._empty_wal()

    def rename_identities(self, pairs: Sequence[tuple[str, str]]) -> None:
        with self._lock:
            if self._keys is not None:
                self._keys.add([new for _, new in pairs])
        self._write(lambda db: _privacy.rename_identities(db, pairs))
        self._empty_wal()

    def drop_events(self, received_before: float, up_to_seq: int) -> int:
        dropped = self._write(lambda db: _privacy.drop_events(db, received_before, up_to_seq))
        self._empty_wal()
        return dropped

    def _empty_wal(self) -> None:
        if self.path != ":memory:":
            with self._lock:
                _privacy.empty_wal(self._db, self.path)

    def vacuum(self) -> None:
        """Rewrite the file without its free pages (what an older version freed without
        zeroing it included), then empty the WAL."""
        with self._lock:
            self._db.execute("VACUUM")
            _privacy.empty_wal(self._db, self.path)

    def _write(self, run: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            db = self._db  # inside the lock: no commit starts landing meanwhile
            db.execute("BEGIN IMMEDIATE")
            try:
                result = run(db)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        self._committed()
        return result

    def _committed(self) -> None:
        """After a commit: the WAL's copy, see `_wal`."""
        if self._wal is not None:
            self._wal.committed()

    def _before_write(self) -> None:
        """Before a group commit begins writing: a long WAL is started over (`_wal`)."""
        if self._wal is not None:
            self._wal.before_write(self._conn.total_changes)

    def close(self) -> None:
        """Settle a landing commit first (its failure is logged: `close` still closes)."""
        try:
            self.settle()
        except StoreError:
            _log.error("the last group commit failed before close; its events were not kept")
        if self._committer is not None:
            self._committer.shutdown()
            self._committer = None
        if self._wal is not None:
            self._wal.close()
            self._wal = None
        self._snapshots.close()
        with self._lock:
            try:
                self._claims.save(self._conn)
            except sqlite3.Error as exc:
                _log.warning("the message-id index was not saved", extra={"error": str(exc)})
        with self._lock:
            if self._reader is not None:
                self._reader.close()
            self._conn.close()
        if self._lockfile is not None:
            self._lockfile.close()
            self._lockfile = None


def _filters(**columns: str | None) -> tuple[str, tuple[str, ...]]:
    used = {k: v for k, v in columns.items() if v is not None}
    where = " AND ".join(f"{k} = ?" for k in used)
    return (f"WHERE {where}" if where else ""), tuple(used.values())


def _read_only(path: str, cache_kib: int = 32768) -> sqlite3.Connection:
    """The engine's read connection (see `_sqlite_landing`), or another thread's
    (`_sqlite_snapshots`, with a smaller page cache: a few records a request)."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("PRAGMA query_only = 1")
    db.execute(f"PRAGMA cache_size = -{cache_kib}")
    return db


def _writer_lock(path: str):  # type: ignore[no-untyped-def]
    """One writing process per database: a second one gets a clear error, not a corrupt log."""
    handle = open(path + ".lock", "a+")  # noqa: SIM115 - held for the store's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise StoreError(
            f"another Intently process (pid {owner}) is writing to {path}; stop it, or send "
            "events to it over HTTP, or open this store read-only") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
