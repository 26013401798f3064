"""The whole cluster as one store, for reading: a schema of views (`<base>_all`) that unites
every partition's tables, so an ordinary read-only engine serves the dashboard and the reading
routes over it (profiles, timelines, segments, scenarios' reports, the outbox, the journal),
with the definitions, users and journals of the shared schema.

An empty template schema (`<base>_none`) is one member of every view, so the views exist and
keep their columns before any partition was opened; the views are made again when more
partitions exist. The union's `meta` says every event is checkpointed, so an engine opened on
it replays nothing: the partitions' owners have applied them."""

from __future__ import annotations

import logging

import psycopg

from ..store.postgres import PostgresStore, split_url, with_schema
from ._layout import partition_schema

_log = logging.getLogger("intently.cluster")
TABLES = ("events", "set_aside", "message_ids", "order_ids", "profiles", "identities",
          "merges", "timers", "segment_members", "segment_changes", "outbox", "journal",
          "accounts", "account_members")
"""The partition tables the union shows (the rest are the shared schema's, or private)."""
_EVERYTHING = 2**63 - 1


def union_schema(base: str) -> str:
    return f"{base}_all"


def _complete(db: psycopg.Connection[tuple[object, ...]], base: str,
              partitions: int) -> list[int]:
    """The partitions whose schemas hold every table the union shows."""
    schemas = {partition_schema(base, p): p for p in range(partitions)}
    rows = db.execute(
        "SELECT table_schema FROM information_schema.tables WHERE table_schema = ANY(%s) "
        "AND table_name = ANY(%s) GROUP BY table_schema HAVING count(*) = %s",
        (list(schemas), list(TABLES), len(TABLES))).fetchall()
    return sorted(schemas[str(r[0])] for r in rows)


def make_views(url: str, partitions: int) -> list[int]:
    """Make (again) the union's views over the partitions whose tables exist; returns
    them."""
    conninfo, base = split_url(url)
    template = f"{base}_none"
    PostgresStore(with_schema(url, template), writer_lock=False).close()  # its tables
    union = union_schema(base)
    with psycopg.connect(conninfo, autocommit=True) as db, db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"intently:{union}:ddl",))
        found = _complete(db, base, partitions)
        members = [template, *(partition_schema(base, p) for p in found)]
        db.execute(f"CREATE SCHEMA IF NOT EXISTS {union}")  # type: ignore[arg-type]
        for table in TABLES:
            body = " UNION ALL ".join(f"SELECT * FROM {m}.{table}" for m in members)
            db.execute(f"CREATE OR REPLACE VIEW {union}.{table} AS {body}")  # type: ignore[arg-type]
        db.execute(f"CREATE OR REPLACE VIEW {union}.meta AS "  # type: ignore[arg-type]
                   f"SELECT key, value FROM {template}.meta WHERE key = 'schema' "
                   f"UNION ALL SELECT 'checkpoint'::text, '{_EVERYTHING}'::text")
    return found


class UnionStore(PostgresStore):
    """The union's views, read through the PostgreSQL backend, with the shared schema for
    definitions, meta, users and journals (which it may write: dashboard users, sessions).
    Open an engine on it read-only."""

    def __init__(self, url: str, partitions: int) -> None:
        self.partitions_found = make_views(url, partitions)
        base = split_url(url)[1]
        super().__init__(with_schema(url, union_schema(base)), writer_lock=False,
                         definitions=base)
        self.cluster_url = url
        self.cluster_partitions = partitions

    def _create_tables(self) -> None:
        """The views are made by `make_views` (and each partition marks its own log)."""

    def remake_views(self) -> bool:
        """Make the views again when partitions were opened since (their tables exist);
        whether they were."""
        with self._lock:
            found = _complete(self._db, split_url(self.cluster_url)[1],
                              self.cluster_partitions)
        if found == self.partitions_found:
            return False
        self.partitions_found = make_views(self.cluster_url, self.cluster_partitions)
        return True
