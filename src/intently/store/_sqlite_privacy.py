"""Erasure, suppression and the privacy journal in the SQLite backend.

An erased person's rows are deleted in one transaction. The writer runs with
`PRAGMA secure_delete = ON`, so SQLite overwrites freed cells and pages with zeros, whether a
row was deleted now or an older copy of it was freed by an update. Then a TRUNCATE checkpoint
copies the WAL into the database and empties it: the WAL no longer holds earlier versions of
the pages. What is left of the person in the file is nothing (the privacy test searches every
byte of the database and its WAL). A file written before secure deletion was on may still hold
freed copies: `vacuum` rewrites it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

from ._rows import Erasure, PrivacyRequest, Subject, Suppression, erase_rows, mentions

_log = logging.getLogger("intently.store")

SCHEMA = """
CREATE TABLE IF NOT EXISTS suppressions (
    digest TEXT PRIMARY KEY,
    since REAL NOT NULL,
    reason TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS privacy_log (
    n INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    verb TEXT NOT NULL,
    subject TEXT NOT NULL,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS privacy_log_by_time ON privacy_log (at);
"""

_ALL = 1 << 62  # "no limit" for the timeline walk


def _marks(n: int) -> str:
    return ",".join("?" * n)


def subject_keys(db: sqlite3.Connection, record_ids: Sequence[str]) -> list[str]:
    """A scan of the identities: erasures are rare, and an index by record would cost every
    checkpoint a second B-tree write per new key."""
    if not record_ids:
        return []
    return sorted(k for (k,) in db.execute(
        f"SELECT key FROM identities WHERE profile_id IN ({_marks(len(record_ids))})",
        record_ids))


def _event_seqs(db: sqlite3.Connection, subject: Subject) -> list[int]:
    """The subject's events: each record's chain of `prev` links, walked back from its head
    and from the heads its merges noted, plus the rows the old per-customer index holds;
    only rows filed under the subject's record ids count. Then set-aside events filed under
    no record that mention one of the subject's values."""
    ids = list(subject.record_ids)
    marks = _marks(len(ids))
    stored = [h for (h,) in db.execute(f"SELECT head FROM merges WHERE from_id IN ({marks})",
                                       ids)]
    starts = sorted({h for h in (*subject.heads, *stored) if h > 0})
    seqs: set[int] = set()
    if starts:
        seqs.update(s for (s,) in db.execute(
            "WITH RECURSIVE back(seq) AS ("
            f"  VALUES {','.join('(?)' for _ in starts)}"
            "  UNION SELECT e.prev FROM events e JOIN back ON e.seq = back.seq"
            "  WHERE e.prev > 0) "
            f"SELECT e.seq FROM back JOIN events e ON e.seq = back.seq "
            f"WHERE e.customer_id IN ({marks})", (*starts, *ids)))
    seqs.update(s for (s,) in db.execute(
        f"SELECT c.seq FROM customer_events c JOIN events e ON e.seq = c.seq "
        f"WHERE c.customer_id IN ({marks})", ids))
    for seq, payload in db.execute(
            "SELECT e.seq, e.payload FROM set_aside d JOIN events e ON e.seq = d.seq "
            "WHERE e.customer_id = ''"):
        if mentions(payload, subject.values):
            seqs.add(seq)
    return sorted(seqs.union(subject.loose))


def _delete_in(db: sqlite3.Connection, table: str, column: str, values: Sequence[object]
               ) -> int:
    deleted = 0
    for start in range(0, len(values), 900):
        part = values[start:start + 900]
        deleted += db.execute(f"DELETE FROM {table} WHERE {column} IN ({_marks(len(part))})",
                              part).rowcount
    return deleted


def erase(db: sqlite3.Connection, subject: Subject, suppress: Sequence[Suppression],
          request: PrivacyRequest) -> Erasure:
    """Inside the caller's transaction."""
    _delete_in(db, "customer_events", "customer_id", list(subject.record_ids))
    erased = erase_rows(lambda table, column, values: _delete_in(db, table, column, values),
                        subject, _event_seqs(db, subject))
    add_suppressions(db, suppress)
    log_request(db, request)
    return erased


def add_suppressions(db: sqlite3.Connection, suppress: Sequence[Suppression]) -> None:
    db.executemany("INSERT OR IGNORE INTO suppressions (digest, since, reason) VALUES (?, ?, ?)",
                   suppress)


def lift(db: sqlite3.Connection, digests: Sequence[str]) -> int:
    return _delete_in(db, "suppressions", "digest", sorted(set(digests)))


def log_request(db: sqlite3.Connection, request: PrivacyRequest) -> None:
    db.execute("INSERT OR IGNORE INTO privacy_log (id, verb, subject, at, actor, detail) "
               "VALUES (?, ?, ?, ?, ?, ?)", request)


def suppressions(db: sqlite3.Connection) -> list[Suppression]:
    return [Suppression(*r) for r in db.execute(
        "SELECT digest, since, reason FROM suppressions ORDER BY digest")]


def privacy_log(db: sqlite3.Connection, limit: int) -> list[PrivacyRequest]:
    return [PrivacyRequest(*r) for r in db.execute(
        "SELECT id, verb, subject, at, actor, detail FROM privacy_log "
        "ORDER BY at DESC, n DESC LIMIT ?", (limit,))]


def empty_wal(db: sqlite3.Connection, path: str, tries: int = 50) -> bool:
    """Copy the WAL into the database and truncate it to nothing (a reader still on an old
    snapshot makes SQLite refuse: retried, then logged)."""
    for _ in range(tries):
        busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if not busy:
            return True
    _log.warning("the WAL could not be emptied after an erasure; it will be at the next "
                 "checkpoint", extra={"path": path})
    return False


def rewrite_payloads(db: sqlite3.Connection, rows: Sequence[tuple[int, bytes]]) -> None:
    db.executemany("UPDATE events SET payload = ? WHERE seq = ?",
                   [(payload, seq) for seq, payload in rows])


def rewrite_messages(db: sqlite3.Connection, rows: Sequence[tuple[str, bytes, str]]) -> None:
    db.executemany("UPDATE outbox SET body = ?, error = ? WHERE id = ?",
                   [(body, error, mid) for mid, body, error in rows])


def rename_identities(db: sqlite3.Connection, pairs: Sequence[tuple[str, str]]) -> None:
    db.executemany("UPDATE OR REPLACE identities SET key = ? WHERE key = ?",
                   [(new, old) for old, new in pairs])
    db.executemany("UPDATE OR REPLACE account_members SET member = ? WHERE member = ?",
                   [(new, old) for old, new in pairs])


def drop_events(db: sqlite3.Connection, received_before: float, up_to_seq: int) -> int:
    """No index on receive time (appends stay cheap): the log is read from its start (what
    earlier runs left) up to its first mark received at `received_before` or later
    (`_marks`), not to its end; a periodic job."""
    row = db.execute("SELECT min(seq) FROM log_marks WHERE received >= ?",
                     (received_before,)).fetchone()
    bound = up_to_seq if row[0] is None else min(up_to_seq, int(row[0]))
    seqs = [s for (s,) in db.execute(
        "SELECT seq FROM events WHERE seq <= ? AND received_at < ?",
        (bound, received_before))]
    _delete_in(db, "set_aside", "seq", seqs)
    _delete_in(db, "customer_events", "seq", seqs)
    return _delete_in(db, "events", "seq", seqs)
