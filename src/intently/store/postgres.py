"""The PostgreSQL backend: every port in one schema of one database (psycopg 3).

The same shapes as the SQLite backend, in PostgreSQL's terms:

- the log is the `events` table, written in group commits; `message_ids` and `order_ids` make
  ingestion idempotent (`INSERT ... ON CONFLICT DO NOTHING`); one writer transaction at a time
  holds a transaction-level advisory lock, and one writing process per schema holds a
  session-level one (a second gets a clear error, as with a SQLite file);
- a record's timeline is an index scan on `(customer_id, seq)` (SQLite walks back pointers
  instead, to spare the embedded writer an index; PostgreSQL keeps the index cheaply, and
  erasure needs it);
- the outbox is claimed with `FOR UPDATE SKIP LOCKED`, so dispatchers on several machines
  never wait for each other and never take one message twice while its lease holds.

A URL is libpq's, plus `schema` (default `intently`), which holds every table:
`postgresql://user@host:5432/db?schema=shop1`. Several deployments can share one database.
"""

from __future__ import annotations

import logging
import re
import threading
import zlib
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import msgspec
import psycopg
from psycopg import sql

from .._errors import StoreError
from . import _postgres_privacy as _privacy
from ._marks import Marks
from ._rows import (
    Account,
    AccountMember,
    AccountUpdate,
    Backlog,
    Erasure,
    JournalChain,
    JournalCount,
    JournalEntry,
    LogRow,
    Member,
    Merge,
    Movement,
    OutboxItem,
    OutboxRow,
    PrivacyRequest,
    RecordEvent,
    SegmentChange,
    SetAside,
    StoredEvent,
    Subject,
    Suppression,
    final_memberships,
)
from ._tx import EndsOnExit

SCHEMA_VERSION = 1

_TABLES = """
CREATE TABLE IF NOT EXISTS events (
    seq BIGINT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    payload BYTEA NOT NULL,
    prev BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_by_customer ON events (customer_id, seq);
CREATE TABLE IF NOT EXISTS log_marks (seq BIGINT PRIMARY KEY,
    received DOUBLE PRECISION NOT NULL);  -- see `_marks`
CREATE TABLE IF NOT EXISTS message_ids (message_id TEXT PRIMARY KEY, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS order_ids (order_id TEXT PRIMARY KEY, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS set_aside (
    seq BIGINT PRIMARY KEY,
    error TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS profiles (id TEXT PRIMARY KEY, body BYTEA NOT NULL,
                                     seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS identities (key TEXT PRIMARY KEY, profile_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS merges (
    id BIGSERIAL PRIMARY KEY,
    into_id TEXT NOT NULL,
    from_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    head BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS merges_into ON merges (into_id);
CREATE INDEX IF NOT EXISTS merges_from ON merges (from_id);
CREATE TABLE IF NOT EXISTS timers (profile_id TEXT PRIMARY KEY, due DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS segments (name TEXT PRIMARY KEY, body BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS scenarios (name TEXT PRIMARY KEY, body BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    body BYTEA NOT NULL,
    created_at DOUBLE PRECISION NOT NULL DEFAULT extract(epoch FROM now())
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segment_members (
    segment TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    since DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (segment, profile_id)
);
CREATE INDEX IF NOT EXISTS segment_members_by_profile ON segment_members (profile_id);
CREATE TABLE IF NOT EXISTS segment_changes (
    id BIGSERIAL PRIMARY KEY,
    segment TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    entered BOOLEAN NOT NULL,
    ts DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS segment_changes_by_segment ON segment_changes (segment, ts);
CREATE TABLE IF NOT EXISTS outbox (
    n BIGSERIAL UNIQUE,
    id TEXT PRIMARY KEY,
    scenario TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    arm TEXT NOT NULL,
    channel TEXT NOT NULL,
    due DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    updated DOUBLE PRECISION NOT NULL DEFAULT 0,
    next_at DOUBLE PRECISION NOT NULL,
    body BYTEA NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL DEFAULT extract(epoch FROM clock_timestamp())
);
CREATE INDEX IF NOT EXISTS outbox_todo ON outbox (status, next_at);
CREATE INDEX IF NOT EXISTS outbox_by_profile ON outbox (profile_id);
CREATE INDEX IF NOT EXISTS outbox_by_scenario ON outbox (scenario);
CREATE TABLE IF NOT EXISTS journal (
    n BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL,
    scenario TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    arm TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    ref TEXT NOT NULL,
    UNIQUE (profile_id, id)
);
CREATE INDEX IF NOT EXISTS journal_by_scenario ON journal (scenario, arm, kind);
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    traits BYTEA NOT NULL,
    first_seen DOUBLE PRECISION NOT NULL,
    last_seen DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS account_members (
    account_id TEXT NOT NULL,
    member TEXT NOT NULL,
    since DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account_id, member)
);
CREATE INDEX IF NOT EXISTS account_members_by_member ON account_members (member);
""" + _privacy.TABLES

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_log = logging.getLogger("intently.store")


def _check_encoding(db: psycopg.Connection[Any], conninfo: str) -> None:
    """Refuse a database whose encoding is not UTF-8: in a SQL_ASCII database psycopg reads
    text as bytes, and identifiers would not compare as written (`initdb` without a locale,
    as in a bare container, makes one)."""
    encoding = db.info.parameter_status("server_encoding")
    if encoding != "UTF8":
        raise StoreError(f"the database at {_safe(conninfo)} is encoded {encoding}; Intently "
                         "needs UTF8 (createdb --encoding UTF8 --template template0 NAME)")


def split_url(url: str) -> tuple[str, str]:
    """(libpq connection string, schema) from `postgresql://...?schema=NAME`."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), "intently")
    if not _NAME.fullmatch(schema):
        raise ValueError(f"schema {schema!r}: use lower-case letters, digits and _ "
                         "(at most 63, not starting with a digit)")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return f"postgresql://{parts.netloc}{parts.path}{'?' if rest else ''}{rest}", schema


def with_schema(url: str, schema: str) -> str:
    """The same database URL with `schema` as its schema (any other query kept)."""
    base, _, query = url.partition("?")
    kept = [p for p in query.split("&") if p and not p.startswith("schema=")]
    return f"{base}?{'&'.join([*kept, f'schema={schema}'])}"


def _lock_key(schema: str, role: str) -> int:
    """An advisory lock's key (signed 64-bit) for one schema's writer or writer transaction."""
    return zlib.crc32(f"intently:{schema}:{role}".encode()) - 2**31


def _write_state(cur: psycopg.Cursor[Any], seq: int, profiles: dict[str, bytes | None],
                 identities: dict[str, str], merges: Sequence[Merge],
                 changes: Sequence[SegmentChange],
                 timers: dict[str, float | None] | None) -> None:
    """Records, identities, merges, segment changes, timers and the replay position, inside
    the caller's transaction; arrays in one statement each, whatever the batch's size."""
    kept = [(pid, body) for pid, body in profiles.items() if body is not None]
    dropped = [pid for pid, body in profiles.items() if body is None]
    if kept:
        cur.execute(
            "INSERT INTO profiles (id, body, seq) SELECT i, b, %s "
            "FROM unnest(%s::text[], %s::bytea[]) AS t(i, b) "
            "ON CONFLICT (id) DO UPDATE SET body = excluded.body, seq = excluded.seq",
            (seq, [k for k, _ in kept], [b for _, b in kept]))
    if dropped:
        cur.execute("DELETE FROM profiles WHERE id = ANY(%s)", (dropped,))
        cur.execute("DELETE FROM segment_members WHERE profile_id = ANY(%s)", (dropped,))
    if identities:
        cur.execute(
            "INSERT INTO identities (key, profile_id) "
            "SELECT * FROM unnest(%s::text[], %s::text[]) "
            "ON CONFLICT (key) DO UPDATE SET profile_id = excluded.profile_id",
            (list(identities), list(identities.values())))
    if merges:
        cur.executemany("INSERT INTO merges (into_id, from_id, reason, ts, head) "
                        "VALUES (%s, %s, %s, %s, %s)",
                        [(m.into_id, m.from_id, m.reason, m.ts, m.head) for m in merges])
    if changes:
        cur.execute(
            "INSERT INTO segment_changes (segment, profile_id, entered, ts) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::boolean[], %s::float8[])",
            ([c.segment for c in changes], [c.profile_id for c in changes],
             [bool(c.entered) for c in changes], [c.ts for c in changes]))
        upserts, deletes = final_memberships(changes)
        if upserts:
            cur.execute(
                "INSERT INTO segment_members (segment, profile_id, since) "
                "SELECT * FROM unnest(%s::text[], %s::text[], %s::float8[]) "
                "ON CONFLICT (segment, profile_id) DO UPDATE SET since = excluded.since",
                ([u[0] for u in upserts], [u[1] for u in upserts], [u[2] for u in upserts]))
        if deletes:
            cur.execute(
                "DELETE FROM segment_members m USING unnest(%s::text[], %s::text[]) "
                "AS d(s, p) WHERE m.segment = d.s AND m.profile_id = d.p",
                ([d[0] for d in deletes], [d[1] for d in deletes]))
    due = [(p, d) for p, d in (timers or {}).items() if d is not None]
    cleared = [p for p, d in (timers or {}).items() if d is None] + dropped
    if due:
        cur.execute("INSERT INTO timers (profile_id, due) "
                    "SELECT * FROM unnest(%s::text[], %s::float8[]) "
                    "ON CONFLICT (profile_id) DO UPDATE SET due = excluded.due",
                    ([p for p, _ in due], [d for _, d in due]))
    if cleared:
        cur.execute("DELETE FROM timers WHERE profile_id = ANY(%s)", (cleared,))
    cur.execute("INSERT INTO meta (key, value) VALUES ('checkpoint', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(seq),))


def _mark(cur: psycopg.Cursor[Any], seq: int) -> None:
    """Mark the log up to `seq` (`_marks`), from what the table holds: the last mark and every
    event after it, whoever wrote them (a partition changes hands; transactions on the log
    take turns)."""
    cur.execute(
        "INSERT INTO log_marks (seq, received) SELECT %(seq)s, greatest("
        " coalesce((SELECT received FROM log_marks ORDER BY seq DESC LIMIT 1), 0),"
        " (SELECT coalesce(max(received_at), 0) FROM events WHERE seq <= %(seq)s AND seq > "
        "  (SELECT coalesce(max(seq), 0) FROM log_marks))) "
        "ON CONFLICT (seq) DO UPDATE SET received = excluded.received", {"seq": seq})


class _Transaction(EndsOnExit):
    """One group commit on the store's connection, which it holds until it ends."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._cur = store._db.cursor()
        self._open = True
        self._claimed: list[str] = []
        row = self._cur.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
        self._next = int(row[0]) + 1 if row else 1

    def next_seq(self) -> int:
        return self._next

    def claim(self, message_ids: Sequence[str], first_seq: int) -> set[int]:
        if not message_ids:
            return set()
        seqs = list(range(first_seq, first_seq + len(message_ids)))
        self._claimed.extend(message_ids)
        self._cur.execute(
            "INSERT INTO message_ids (message_id, seq) "
            "SELECT m, s FROM unnest(%s::text[], %s::bigint[]) WITH ORDINALITY AS t(m, s, o) "
            "ORDER BY o ON CONFLICT (message_id) DO NOTHING RETURNING seq",
            (list(message_ids), seqs))
        fresh = {int(r[0]) for r in self._cur.fetchall()}
        return {i for i, seq in enumerate(seqs) if seq not in fresh}

    def claim_orders(self, orders: Sequence[tuple[str, int]]) -> set[int]:
        if not orders:
            return set()
        ids = [o for o, _ in orders]
        self._cur.execute(
            "INSERT INTO order_ids (order_id, seq) "
            "SELECT o, s FROM unnest(%s::text[], %s::bigint[]) WITH ORDINALITY AS t(o, s, n) "
            "ORDER BY n ON CONFLICT (order_id) DO NOTHING", (ids, [s for _, s in orders]))
        owner: dict[str, int] = dict(self._cur.execute(
            "SELECT order_id, seq FROM order_ids WHERE order_id = ANY(%s)", (ids,)).fetchall())
        return {seq for order_id, seq in orders if owner.get(order_id) != seq}

    def append(self, rows: Sequence[LogRow]) -> None:
        if not rows:
            return
        if rows[0][0] < self._next:
            raise StoreError(f"log position {rows[0][0]} is taken (next is {self._next})")
        self._next = rows[-1][0] + 1
        columns = list(zip(*rows, strict=True))
        self._cur.execute(
            "INSERT INTO events (seq, customer_id, ts, received_at, payload, prev) "
            "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::float8[], %s::float8[], "
            "%s::bytea[], %s::bigint[])", [list(c) for c in columns])
        if self._store._marks.add(rows) is not None:
            _mark(self._cur, rows[-1][0])

    def set_aside(self, seq: int, error: str, at: float) -> None:
        self._cur.execute("INSERT INTO set_aside (seq, error, at) VALUES (%s, %s, %s) "
                          "ON CONFLICT (seq) DO UPDATE SET error = excluded.error, "
                          "at = excluded.at", (seq, error, at))

    def put_accounts(self, updates: Sequence[AccountUpdate]) -> None:
        cur = self._cur
        for account_id, traits, ts, member in updates:
            row = cur.execute("SELECT traits FROM accounts WHERE id = %s",
                              (account_id,)).fetchone()
            merged = {**msgspec.json.decode(row[0]), **traits} if row else traits
            cur.execute(
                "INSERT INTO accounts (id, traits, first_seen, last_seen) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET traits = excluded.traits,"
                " first_seen = least(accounts.first_seen, excluded.first_seen),"
                " last_seen = greatest(accounts.last_seen, excluded.last_seen)",
                (account_id, msgspec.json.encode(merged), ts, ts))
            cur.execute("INSERT INTO account_members (account_id, member, since) "
                        "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", (account_id, member, ts))

    def put_effects(self, messages: Sequence[OutboxRow], journal: Sequence[JournalEntry],
                    chain: JournalChain | None = None) -> dict[str, int]:
        if chain is not None:  # an index by record keeps them, as the others
            journal = [*journal, *chain.rows]
        if messages:
            self._cur.executemany(
                "INSERT INTO outbox (id, scenario, profile_id, arm, channel, due, next_at, body) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                [(m[0], m[1], m[2], m[3], m[4], m[5], m[5], m[6]) for m in messages])
        if journal:
            self._cur.executemany(
                "INSERT INTO journal (id, scenario, profile_id, arm, kind, ts, value, ref) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [tuple(j) for j in journal])
        return {}  # an index by record finds the rows: no chains

    def put_state(self, seq: int, profiles: dict[str, bytes | None],
                  identities: dict[str, str], merges: Sequence[Merge],
                  changes: Sequence[SegmentChange] = (),
                  timers: dict[str, float | None] | None = None) -> None:
        _write_state(self._cur, seq, profiles, identities, merges, changes, timers)

    def commit(self) -> None:
        if not self._open:
            raise RuntimeError("the transaction has ended")
        self._open = False
        try:
            self._store._fence(self._cur, self._claimed)
            self._cur.execute("COMMIT")
        except BaseException:
            self._store._abort()
            raise
        finally:
            self._cur.close()
            self._store._lock.release()

    def rollback(self) -> None:
        if not self._open:
            return
        self._open = False
        try:
            self._store._abort()
        finally:
            self._cur.close()
            self._store._lock.release()


class PostgresStore:
    """`durability="fsync"` (default) acknowledges a commit once PostgreSQL has flushed it
    (`synchronous_commit = on`); `"process"` once PostgreSQL has it in memory
    (`synchronous_commit = off`: a crash of the database server may lose the last commits,
    never their order)."""

    def __init__(self, url: str, *, durability: str = "fsync", readonly: bool = False,
                 writer_lock: bool = True, definitions: str | None = None) -> None:
        """`writer_lock=False`: no lock for the process's lifetime (a cluster's partition is
        written under a lease instead, checked by `_fence` in every write transaction).
        `definitions`: the schema that holds segments, scenarios, models and meta, when
        several stores share them (default: this store's own)."""
        if durability not in ("fsync", "process"):
            raise ValueError("durability must be 'fsync' or 'process'")
        conninfo, self.schema = split_url(url)
        self._defs = definitions or self.schema
        if not _NAME.fullmatch(self._defs):
            raise ValueError(f"schema {self._defs!r} is not a plain name")
        self.url = url
        self.readonly = readonly
        try:
            self._db = psycopg.connect(conninfo, autocommit=True,
                                       application_name="intently")
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot reach PostgreSQL at {_safe(conninfo)}: "
                             f"{str(exc).strip()}") from None
        self._lock = threading.RLock()
        # other threads' reads (`snapshot_profile`): a second connection, made when first
        # asked, so that they do not wait for the writer's transaction on the first
        self._conninfo = conninfo
        self._snap: psycopg.Connection[Any] | None = None
        self._snap_lock = threading.Lock()
        self._marks = Marks()  # the log's receive times (`_marks`), read below for a writer
        db = self._db
        try:
            _check_encoding(db, conninfo)
            if readonly:
                db.execute("SET default_transaction_read_only = on")
            else:
                if writer_lock:
                    self._take_writer_lock()
                self._create_schema()
            db.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            if durability == "process":
                db.execute("SET synchronous_commit = off")
            if not readonly:
                self._create_tables()
        except BaseException:
            db.close()
            raise

    def _open_marks(self) -> Marks:
        """The writer's view of the log's marks: the log after the last one is marked where it
        ends (a few thousand events at most; a log written before marks existed is read whole,
        once)."""
        db = self._db
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(self.schema, "log"),))
            last = db.execute("SELECT max(seq) FROM events WHERE seq > "
                              "(SELECT coalesce(max(seq), 0) FROM log_marks)").fetchone()
            if last is not None and last[0] is not None:
                _mark(db.cursor(), int(last[0]))
            row = db.execute("SELECT seq, received FROM log_marks ORDER BY seq DESC LIMIT 1"
                             ).fetchone()
        return Marks(int(row[0]), float(row[1])) if row else Marks()

    def _take_writer_lock(self) -> None:
        row = self._db.execute("SELECT pg_try_advisory_lock(%s)",
                               (_lock_key(self.schema, "writer"),)).fetchone()
        if not (row and row[0]):
            raise StoreError(
                f"another Intently process is writing to schema {self.schema!r} of this "
                "database; stop it, or send events to it over HTTP, or open this store "
                "read-only")

    def _create_schema(self) -> None:
        """The schema, once: processes starting together take turns (concurrent `CREATE ...
        IF NOT EXISTS` statements collide in PostgreSQL's catalog)."""
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                             (f"intently:{self.schema}:ddl",))
            self._db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                sql.Identifier(self.schema)))

    def _create_tables(self) -> None:
        """The tables, if new, and the writer's view of the log's marks."""
        db = self._db
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                       (f"intently:{self.schema}:ddl",))
            db.execute(_TABLES)  # a fixed script, several statements
            row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is not None and int(row[0]) > SCHEMA_VERSION:
                raise StoreError(f"schema {self.schema!r} was written by a newer Intently "
                                 f"(schema {row[0]})")
            db.execute("INSERT INTO meta (key, value) VALUES ('schema', %s) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       (str(SCHEMA_VERSION),))
        self._marks = self._open_marks()

    def _fence(self, cur: psycopg.Cursor[Any], claimed: Sequence[str]) -> None:
        """Called in every write transaction just before it commits (`claimed`: the message
        ids it claimed); raising rolls it back. A cluster's partition store checks its lease
        here."""

    def _abort(self) -> None:
        """Roll back whatever transaction the connection is in (a failed statement leaves it
        aborted, and a lost connection leaves nothing to roll back)."""
        if self._db.closed:
            return
        try:
            self._db.execute("ROLLBACK")
        except psycopg.Error as exc:
            _log.warning("rollback failed", extra={"error": str(exc)})

    def _rows(self, query: str, args: Sequence[Any] | dict[str, Any] = ()
              ) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(query, args).fetchall()

    def _one(self, query: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with self._lock:
            return self._db.execute(query, args).fetchone()

    def _run(self, query: str, args: Sequence[Any] = ()) -> None:
        with self._lock:
            self._db.execute(query, args)

    # -- the event log
    def settle(self) -> None:
        """Commits here are in place: nothing lands later."""

    def transaction(self) -> _Transaction:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN")
            self._db.execute("SELECT pg_advisory_xact_lock(%s)",
                             (_lock_key(self.schema, "log"),))
            return _Transaction(self)
        except BaseException:
            self._abort()
            self._lock.release()
            raise

    def last_seq(self) -> int:
        row = self._one("SELECT coalesce(max(seq), 0) FROM events")
        return int(row[0]) if row else 0

    def read_log(self, after: int, batch: int = 5000) -> Iterator[list[StoredEvent]]:
        cursor = after
        while True:
            rows = self._rows("SELECT seq, ts, received_at, payload FROM events WHERE seq > %s "
                              "ORDER BY seq LIMIT %s", (cursor, batch))
            if not rows:
                return
            yield list(map(StoredEvent._make, rows))
            cursor = rows[-1][0]

    def events_since(self, ts: float, batch: int = 5000, until: int | None = None,
                     received_from: float | None = None) -> Iterator[list[RecordEvent]]:
        cursor = 0
        if received_from is not None:
            row = self._one("SELECT coalesce(max(seq), 0) FROM log_marks WHERE received < %s",
                            (received_from,))
            cursor = int(row[0]) if row else 0
        while True:
            with self._lock:
                db = self._db
                end = until if until is not None else self.last_seq()
                row = db.execute("SELECT min(seq) FROM events WHERE seq > %s",
                                 (cursor,)).fetchone()
                if row is None or row[0] is None or row[0] > end:
                    return
                cursor, stop = row[0] - 1, min(end, row[0] - 1 + batch)
                rows = db.execute(
                    "SELECT customer_id, payload, ts, received_at FROM events WHERE seq > %s "
                    "AND seq <= %s AND ts >= %s ORDER BY seq", (cursor, stop, ts)).fetchall()
            yield list(map(RecordEvent._make, rows))
            cursor = stop

    def count_events(self) -> int:
        row = self._one("SELECT count(*) FROM events")
        return int(row[0]) if row else 0

    def set_aside_seqs(self, after: int = 0) -> set[int]:
        return {r[0] for r in self._rows("SELECT seq FROM set_aside WHERE seq > %s", (after,))}

    def set_aside_events(self, limit: int = 100) -> list[SetAside]:
        rows = self._rows(
            "SELECT e.seq, e.ts, e.received_at, e.payload, d.error, d.at FROM set_aside d "
            "JOIN events e ON e.seq = d.seq ORDER BY d.seq DESC LIMIT %s", (limit,))
        return list(map(SetAside._make, rows))

    # -- checkpointed state
    def checkpoint(self, seq: int, profiles: dict[str, bytes | None],
                   identities: dict[str, str], merges: Sequence[Merge],
                   changes: Sequence[SegmentChange] = (),
                   timers: dict[str, float | None] | None = None) -> None:
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            _write_state(cur, seq, profiles, identities, merges, changes, timers)
            self._fence(cur, ())

    def checkpoint_seq(self) -> int:
        row = self._one("SELECT value FROM meta WHERE key = 'checkpoint'")
        return int(row[0]) if row else 0

    def load_profile(self, profile_id: str) -> bytes | None:
        row = self._one("SELECT body FROM profiles WHERE id = %s", (profile_id,))
        return row[0] if row else None

    def load_profiles(self, profile_ids: Sequence[str]) -> dict[str, bytes]:
        if not profile_ids:
            return {}
        return dict(self._rows("SELECT id, body FROM profiles WHERE id = ANY(%s)",
                               (list(profile_ids),)))

    def resolve(self, key: str) -> str | None:
        row = self._one("SELECT profile_id FROM identities WHERE key = %s", (key,))
        return row[0] if row else None

    def snapshot_profile(self, profile_id: str) -> bytes | None:
        row = self._snapshot("SELECT body FROM profiles WHERE id = %s", profile_id)
        return row[0] if row else None

    def snapshot_identity(self, key: str) -> str | None:
        row = self._snapshot("SELECT profile_id FROM identities WHERE key = %s", key)
        return row[0] if row else None

    def _snapshot(self, query: str, arg: str) -> tuple[Any, ...] | None:
        with self._snap_lock:
            db = self._snap
            if db is None or db.closed:
                try:
                    db = psycopg.connect(self._conninfo, autocommit=True,
                                         application_name="intently-reads")
                except psycopg.OperationalError as exc:
                    raise StoreError(f"cannot reach PostgreSQL at {_safe(self._conninfo)}: "
                                     f"{str(exc).strip()}") from None
                db.execute("SET default_transaction_read_only = on")
                db.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
                self._snap = db
            row: tuple[Any, ...] | None = db.execute(query, (arg,)).fetchone()
            return row

    def resolve_many(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        return dict(self._rows(
            "SELECT key, profile_id FROM identities WHERE key = ANY(%s)", (list(keys),)))

    def resolve_any(self) -> str | None:
        row = self._one("SELECT key FROM identities LIMIT 1")
        return row[0] if row else None

    def merges(self, profile_id: str) -> list[Merge]:
        rows = self._rows("SELECT into_id, from_id, reason, ts, head FROM merges "
                          "WHERE into_id = %s ORDER BY id", (profile_id,))
        return [Merge(*row) for row in rows]

    def load_timers(self) -> dict[str, float]:
        return dict(self._rows("SELECT profile_id, due FROM timers"))

    def profile_ids(self, limit: int = 100, offset: int = 0, after: str | None = None
                    ) -> list[str]:
        if after is not None:
            rows = self._rows("SELECT id FROM profiles WHERE id COLLATE \"C\" > %s "
                              "ORDER BY id COLLATE \"C\" LIMIT %s", (after, limit))
        else:
            rows = self._rows("SELECT id FROM profiles ORDER BY id COLLATE \"C\" "
                              "LIMIT %s OFFSET %s", (limit, offset))
        return [r[0] for r in rows]

    def count_profiles(self) -> int:
        row = self._one("SELECT count(*) FROM profiles")
        return int(row[0]) if row else 0

    # -- the outbox
    _ITEM = ("id, scenario, profile_id, arm, channel, due, status, attempts, error, updated, "
             "body")

    def claim_due(self, now: float, owner: str, lease_s: float = 60.0, limit: int = 100
                  ) -> list[OutboxItem]:
        with self._lock:
            return claim_due(self._db, self.schema, now, owner, lease_s, limit)

    def mark(self, message_id: str, status: str, attempts: int, next_at: float, error: str,
             now: float) -> None:
        with self._lock:
            mark(self._db, self.schema, message_id, status, attempts, next_at, error, now)

    # -- definitions and settings
    def save_segment(self, name: str, body: bytes | None) -> None:
        self._save("segments", name, body)

    def load_segments(self) -> dict[str, bytes]:
        return dict(self._rows(f"SELECT name, body FROM {self._defs}.segments"))

    def save_scenario(self, name: str, body: bytes | None) -> None:
        self._save("scenarios", name, body)

    def load_scenarios(self) -> dict[str, bytes]:
        return dict(self._rows(f"SELECT name, body FROM {self._defs}.scenarios"))

    def _save(self, table: str, name: str, body: bytes | None) -> None:
        if body is None:
            self._run(f"DELETE FROM {self._defs}.{table} WHERE name = %s", (name,))
        else:
            self._run(f"INSERT INTO {self._defs}.{table} (name, body) VALUES (%s, %s) "
                      "ON CONFLICT (name) DO UPDATE SET body = excluded.body", (name, body))

    def save_model(self, name: str, version: str, body: bytes) -> None:
        self._run(f"INSERT INTO {self._defs}.models (name, version, body) VALUES (%s, %s, %s)",
                  (name, version, body))

    def load_model(self, name: str) -> bytes | None:
        row = self._one(f"SELECT body FROM {self._defs}.models WHERE name = %s "
                        "ORDER BY id DESC LIMIT 1",
                        (name,))
        return row[0] if row else None

    def model_versions(self, name: str) -> list[str]:
        return [r[0] for r in self._rows(f"SELECT version FROM {self._defs}.models WHERE name = %s "
                                         "ORDER BY id", (name,))]

    def get_meta(self, key: str) -> str | None:
        row = self._one(f"SELECT value FROM {self._defs}.meta WHERE key = %s", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._run(f"INSERT INTO {self._defs}.meta (key, value) VALUES (%s, %s) "
                  "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, str(value)))

    # -- what the surfaces show
    # -- privacy
    def subject_keys(self, record_ids: Sequence[str]) -> list[str]:
        return sorted(r[0] for r in self._rows(
            "SELECT key FROM identities WHERE profile_id = ANY(%s)", (list(record_ids),)))

    def erase(self, subject: Subject, suppress: Sequence[Suppression],
              request: PrivacyRequest) -> Erasure:
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(self.schema, "log"),))
            erased = _privacy.erase(cur, self._defs, subject, suppress, request)
            self._fence(cur, (request.id,))  # a partition's position moves past the request
        return erased

    def suppress(self, suppress: Sequence[Suppression], request: PrivacyRequest) -> None:
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            _privacy.add_suppressions(cur, self._defs, suppress)
            _privacy.log_request(cur, self._defs, request)

    def log_request(self, request: PrivacyRequest) -> None:
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            _privacy.log_request(cur, self._defs, request)

    def unsuppress(self, digests: Sequence[str], request: PrivacyRequest) -> int:
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            _privacy.log_request(cur, self._defs, request)
            return _privacy.lift(cur, self._defs, digests)

    def suppressions(self) -> list[Suppression]:
        return [Suppression(*r) for r in self._rows(
            f"SELECT digest, since, reason FROM {self._defs}.suppressions ORDER BY digest")]

    def privacy_log(self, limit: int = 100) -> list[PrivacyRequest]:
        return [PrivacyRequest(*r) for r in self._rows(
            f"SELECT id, verb, subject, at, actor, detail FROM {self._defs}.privacy_log "
            "ORDER BY at DESC, n DESC LIMIT %s", (limit,))]

    def rewrite_payloads(self, rows: Sequence[tuple[int, bytes]]) -> None:
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            cur.executemany("UPDATE events SET payload = %s WHERE seq = %s",
                            [(payload, seq) for seq, payload in rows])
            self._fence(cur, ())

    def rewrite_messages(self, rows: Sequence[tuple[str, bytes, str]]) -> None:
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            cur.executemany("UPDATE outbox SET body = %s, error = %s WHERE id = %s",
                            [(body, error, mid) for mid, body, error in rows])
            self._fence(cur, ())

    def rename_identities(self, pairs: Sequence[tuple[str, str]]) -> None:
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            both = [(new, old) for old, new in pairs]
            cur.executemany("DELETE FROM identities WHERE key = %s AND EXISTS ("
                            "SELECT 1 FROM identities o WHERE o.key = %s)", both)
            cur.executemany("UPDATE identities SET key = %s WHERE key = %s", both)
            cur.executemany("DELETE FROM account_members t WHERE member = %s AND EXISTS ("
                            "SELECT 1 FROM account_members o WHERE o.member = %s "
                            "AND o.account_id = t.account_id)", both)
            cur.executemany("UPDATE account_members SET member = %s WHERE member = %s", both)
            self._fence(cur, ())

    def drop_events(self, received_before: float, up_to_seq: int) -> int:
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            # read up to the first mark received at `received_before` or later (`_marks`)
            row = cur.execute("SELECT min(seq) FROM log_marks WHERE received >= %s",
                              (received_before,)).fetchone()
            if row is not None and row[0] is not None:
                up_to_seq = min(up_to_seq, int(row[0]))
            cur.execute("DELETE FROM set_aside WHERE seq IN (SELECT seq FROM events "
                        "WHERE seq <= %s AND received_at < %s)", (up_to_seq, received_before))
            cur.execute("DELETE FROM events WHERE seq <= %s AND received_at < %s",
                        (up_to_seq, received_before))
            dropped = max(cur.rowcount, 0)
            self._fence(cur, ())
        return dropped

    def timeline(self, record_ids: Sequence[str], limit: int = 100,
                 heads: Sequence[int] = ()) -> list[StoredEvent]:
        rows = self._rows("SELECT seq, ts, received_at, payload FROM events "
                          "WHERE customer_id = ANY(%s) ORDER BY seq DESC LIMIT %s",
                          (list(record_ids), limit))
        return list(map(StoredEvent._make, rows))

    def segment_members(self, segment: str, limit: int = 1000, offset: int = 0
                        ) -> list[Member]:
        rows = self._rows("SELECT profile_id, since FROM segment_members WHERE segment = %s "
                          "ORDER BY profile_id COLLATE \"C\" LIMIT %s OFFSET %s",
                          (segment, limit, offset))
        return list(map(Member._make, rows))

    def segment_sizes(self) -> dict[str, int]:
        return dict(self._rows(
            "SELECT segment, count(*) FROM segment_members GROUP BY segment"))

    def segment_changes(self, segment: str, since: float = 0.0) -> list[Movement]:
        rows = self._rows("SELECT profile_id, entered, ts FROM segment_changes "
                          "WHERE segment = %s AND ts >= %s ORDER BY ts, id", (segment, since))
        return [Movement(r[0], bool(r[1]), r[2]) for r in rows]

    def outbox(self, limit: int = 100, scenario: str | None = None,
               profile_id: str | None = None) -> list[OutboxItem]:
        where, args = _filters(scenario=scenario, profile_id=profile_id)
        rows = self._rows(f"SELECT {self._ITEM} FROM outbox {where} ORDER BY due DESC, n DESC "
                          "LIMIT %s", (*args, limit))
        return [OutboxItem(*r) for r in rows]

    def outbox_counts(self, scenario: str) -> dict[tuple[str, str], int]:
        rows = self._rows("SELECT arm, status, count(*) FROM outbox WHERE scenario = %s "
                          "GROUP BY arm, status", (scenario,))
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def outbox_backlog(self, now: float) -> Backlog:
        counts = {r[0]: int(r[1]) for r in self._rows(
            "SELECT status, count(*) FROM outbox GROUP BY status")}
        row = self._one("SELECT count(*), min(next_at) FROM outbox WHERE status = 'pending' "
                        "AND next_at <= %s", (now,))
        due, oldest = row if row else (0, None)
        return Backlog(counts, int(due), oldest)

    def journal(self, profile_id: str | None = None, scenario: str | None = None,
                limit: int = 100, heads: Sequence[int] = ()) -> list[JournalEntry]:
        where, args = _filters(scenario=scenario, profile_id=profile_id)
        rows = self._rows("SELECT id, scenario, profile_id, arm, kind, ts, value, ref FROM "
                          f"journal {where} ORDER BY ts DESC, id COLLATE \"C\" LIMIT %s",
                          (*args, limit))
        return [JournalEntry(*r) for r in rows]

    def journal_counts(self, scenario: str) -> list[JournalCount]:
        rows = self._rows(
            "SELECT arm, kind, count(*), sum(value), count(DISTINCT profile_id) FROM journal "
            "WHERE scenario = %s GROUP BY arm, kind", (scenario,))
        return [JournalCount(r[0], r[1], int(r[2]), r[3], int(r[4])) for r in rows]

    def account(self, account_id: str) -> Account | None:
        with self._lock:
            row = self._one("SELECT traits, first_seen, last_seen FROM accounts WHERE id = %s",
                            (account_id,))
            if row is None:
                return None
            members = self._rows("SELECT member, since FROM account_members "
                                 "WHERE account_id = %s ORDER BY since, member COLLATE \"C\"",
                                 (account_id,))
        return Account(account_id, msgspec.json.decode(row[0]), row[1], row[2],
                       list(map(AccountMember._make, members)))

    def accounts_of(self, keys: Sequence[str]) -> list[str]:
        if not keys:
            return []
        rows = self._rows("SELECT DISTINCT account_id FROM account_members "
                          "WHERE member = ANY(%s)", (list(keys),))
        return sorted(r[0] for r in rows)

    def account_ids(self, limit: int = 100, offset: int = 0) -> list[str]:
        rows = self._rows("SELECT id FROM accounts ORDER BY id COLLATE \"C\" LIMIT %s OFFSET %s",
                          (limit, offset))
        return [r[0] for r in rows]

    def close(self) -> None:
        with self._snap_lock:
            if self._snap is not None and not self._snap.closed:
                self._snap.close()
        with self._lock:
            if not self._db.closed:
                self._db.close()  # the session's advisory locks go with it


_OUTBOX_ITEM = ", ".join(f"o.{c.strip()}" for c in PostgresStore._ITEM.split(","))


def claim_due(db: psycopg.Connection[Any], schema: str, now: float, owner: str, lease_s: float,
              limit: int) -> list[OutboxItem]:
    """`Outbox.claim_due` on the outbox of `schema`, in one statement: rows another
    dispatcher is claiming at the same moment are skipped, not waited for."""
    rows = db.execute(
        f"UPDATE {schema}.outbox o SET status = 'sending', owner = %(owner)s, "  # type: ignore[arg-type]
        f"lease_until = %(until)s FROM (SELECT n FROM {schema}.outbox"
        " WHERE (status = 'pending' AND next_at <= %(now)s)"
        " OR (status = 'sending' AND (lease_until <= %(now)s OR owner = %(owner)s))"
        " ORDER BY next_at, n LIMIT %(limit)s FOR UPDATE SKIP LOCKED) due"
        f" WHERE o.n = due.n RETURNING o.next_at, o.n, {_OUTBOX_ITEM}",
        {"owner": owner, "until": now + lease_s, "now": now, "limit": limit}).fetchall()
    rows.sort(key=lambda r: (r[0], r[1]))
    return [OutboxItem(*r[2:]) for r in rows]


def mark(db: psycopg.Connection[Any], schema: str, message_id: str, status: str, attempts: int,
         next_at: float, error: str, now: float) -> None:
    """`Outbox.mark` on the outbox of `schema`."""
    db.execute(f"UPDATE {schema}.outbox SET status = %s, attempts = %s, next_at = %s, "  # type: ignore[arg-type]
               "error = %s, updated = %s, owner = '', lease_until = 0 WHERE id = %s",
               (status, attempts, next_at, error, now, message_id))


def _filters(**columns: str | None) -> tuple[str, tuple[str, ...]]:
    used = {k: v for k, v in columns.items() if v is not None}
    where = " AND ".join(f"{k} = %s" for k in used)
    return (f"WHERE {where}" if where else ""), tuple(used.values())


def _safe(conninfo: str) -> str:
    """A connection string without its password, for messages."""
    parts = urlsplit(conninfo)
    host = parts.hostname or "the local socket"
    return f"{host}:{parts.port or 5432}/{parts.path.lstrip('/')}"
