"""Erasure, suppression and the privacy journal in the PostgreSQL backend.

An erased person's rows are deleted in one transaction (the partition's lease fences it in a
cluster). PostgreSQL keeps a deleted row's bytes in its table files until VACUUM reuses the
space: no query returns them, and the files should be encrypted at rest (docs/privacy.md).
The suppression list and the privacy journal live with the definitions, so every partition of
a cluster reads one list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from ._rows import Erasure, PrivacyRequest, Subject, Suppression, erase_rows, mentions

TABLES = """
CREATE TABLE IF NOT EXISTS suppressions (
    digest TEXT PRIMARY KEY,
    since DOUBLE PRECISION NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS privacy_log (
    n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    verb TEXT NOT NULL,
    subject TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    actor TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS privacy_log_by_time ON privacy_log (at);
CREATE INDEX IF NOT EXISTS identities_by_profile ON identities (profile_id);
"""

Cursor = psycopg.Cursor[Any]


def _delete(cur: Cursor, table: str, column: str, values: Sequence[Any]) -> int:
    cur.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", (list(values),))
    return max(cur.rowcount, 0)


def erase(cur: Cursor, defs: str, subject: Subject, suppress: Sequence[Suppression],
          request: PrivacyRequest) -> Erasure:
    cur.execute("SELECT e.seq, e.payload FROM set_aside d JOIN events e ON e.seq = d.seq "
                "WHERE e.customer_id = ''")
    loose = [seq for seq, payload in cur.fetchall() if mentions(payload, subject.values)]
    cur.execute("SELECT seq FROM events WHERE customer_id = ANY(%s)",
                (list(subject.record_ids),))
    erased = erase_rows(lambda table, column, values: _delete(cur, table, column, values),
                        subject, [r[0] for r in cur.fetchall()] + loose + list(subject.loose))
    add_suppressions(cur, defs, suppress)
    log_request(cur, defs, request)
    return erased


def add_suppressions(cur: Cursor, defs: str, suppress: Sequence[Suppression]) -> None:
    if suppress:
        cur.executemany(f"INSERT INTO {defs}.suppressions (digest, since, reason) "
                        "VALUES (%s, %s, %s) ON CONFLICT (digest) DO NOTHING", suppress)


def lift(cur: Cursor, defs: str, digests: Sequence[str]) -> int:
    return _delete(cur, f"{defs}.suppressions", "digest", sorted(set(digests)))


def log_request(cur: Cursor, defs: str, request: PrivacyRequest) -> None:
    cur.execute(f"INSERT INTO {defs}.privacy_log (id, verb, subject, at, actor, detail) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING", request)
