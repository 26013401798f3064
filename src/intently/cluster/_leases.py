"""Partition ownership: leases with epochs in PostgreSQL.

A worker takes a partition with a conditional UPDATE that succeeds only when the lease is free
or has run out, and bumps the epoch; it renews by heartbeat. Every write transaction of the
partition checks, just before it commits, that the lease row still carries the worker's name
and epoch (`PartitionStore._fence`), and records the stream position it has applied in the same
row: a worker that lost its lease cannot commit, and the next owner starts exactly where the
last commit left off. Expiry is judged by the database's clock, so workers' clocks may drift.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import psycopg

_TABLES = """
CREATE TABLE IF NOT EXISTS leases (
    part INTEGER PRIMARY KEY,
    owner TEXT NOT NULL DEFAULT '',
    epoch BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    stream_seq BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS lease_history (
    part INTEGER NOT NULL,
    epoch BIGINT NOT NULL,
    owner TEXT NOT NULL,
    stream_seq BIGINT NOT NULL,
    taken_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (part, epoch)
);
CREATE TABLE IF NOT EXISTS workers (name TEXT PRIMARY KEY, seen_at TIMESTAMPTZ NOT NULL);
CREATE TABLE IF NOT EXISTS homes (
    key TEXT PRIMARY KEY,
    part INTEGER NOT NULL,
    moved_at DOUBLE PRECISION NOT NULL DEFAULT 0
);
"""


class Lease(NamedTuple):
    partition: int
    owner: str
    epoch: int
    stream_seq: int
    """The last stream position whose events are committed (the next owner reads after it)."""


class Leases:
    """The lease table, on a connection of its own (autocommit: each call is one
    transaction)."""

    def __init__(self, conninfo: str, schema: str, partitions: int, lease_s: float) -> None:
        self.schema = schema
        self.partitions = partitions
        self.lease_s = lease_s
        self._db = psycopg.connect(conninfo, autocommit=True, application_name="intently-lease")
        self._db.execute(f"SET search_path TO {schema}")  # type: ignore[arg-type]

    def create(self) -> None:
        """The tables and one row per partition (idempotent)."""
        with self._db.transaction():  # one process at a time (concurrent CREATE ... IF NOT
            self._db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",  # EXISTS collide)
                             (f"intently:{self.schema}:ddl",))
            self._db.execute(_TABLES)  # type: ignore[arg-type]
            self._db.execute("INSERT INTO leases (part) SELECT generate_series(0, %s - 1) "
                             "ON CONFLICT DO NOTHING", (self.partitions,))

    def take(self, partition: int, owner: str) -> Lease | None:
        """The partition's lease with the next epoch, if it is free or has run out."""
        with self._db.transaction():
            row = self._db.execute(
                "UPDATE leases SET owner = %s, epoch = epoch + 1, "
                "expires_at = now() + make_interval(secs => %s) "
                "WHERE part = %s AND (owner = '' OR expires_at < now()) "
                "RETURNING epoch, stream_seq", (owner, self.lease_s, partition)).fetchone()
            if row is None:
                return None
            self._db.execute("INSERT INTO lease_history (part, epoch, owner, stream_seq) "
                             "VALUES (%s, %s, %s, %s)", (partition, row[0], owner, row[1]))
        return Lease(partition, owner, int(row[0]), int(row[1]))

    def renew(self, lease: Lease) -> bool:
        """Extend the lease; False when it is no longer this owner's (then drop the
        partition: its commits would fail)."""
        cur = self._db.execute(
            "UPDATE leases SET expires_at = now() + make_interval(secs => %s) "
            "WHERE part = %s AND owner = %s AND epoch = %s",
            (self.lease_s, lease.partition, lease.owner, lease.epoch))
        return cur.rowcount == 1

    def release(self, lease: Lease) -> None:
        """Give the partition up at once (a graceful stop or a rebalance)."""
        self._db.execute("UPDATE leases SET owner = '', expires_at = '-infinity' "
                         "WHERE part = %s AND owner = %s AND epoch = %s",
                         (lease.partition, lease.owner, lease.epoch))

    def free(self) -> list[int]:
        """Partitions nobody holds, or whose lease ran out."""
        return [r[0] for r in self._db.execute(
            "SELECT part FROM leases WHERE owner = '' OR expires_at < now() ORDER BY part")]

    def heartbeat(self, worker: str) -> int:
        """Say this worker is alive; returns how many workers are (seen within a lease)."""
        self._db.execute("INSERT INTO workers (name, seen_at) VALUES (%s, now()) "
                         "ON CONFLICT (name) DO UPDATE SET seen_at = now()", (worker,))
        row = self._db.execute("SELECT count(*) FROM workers WHERE seen_at > now() - "
                               "make_interval(secs => %s)", (self.lease_s,)).fetchone()
        return int(row[0]) if row else 1

    def fair_share(self, workers: int) -> int:
        """How many partitions each worker should hold."""
        return math.ceil(self.partitions / max(1, workers))

    def leave(self, worker: str) -> None:
        self._db.execute("DELETE FROM workers WHERE name = %s", (worker,))

    def table(self) -> list[tuple[Any, ...]]:
        """(partition, owner, epoch, stream_seq, seconds left) for every partition."""
        return self._db.execute(
            "SELECT part, owner, epoch, stream_seq, "
            "CASE WHEN expires_at = '-infinity' THEN -1.0 "
            "ELSE greatest(extract(epoch FROM expires_at - now()), -1)::float8 END "
            "FROM leases ORDER BY part").fetchall()

    def history(self) -> list[tuple[int, int, str, int]]:
        """(partition, epoch, owner, stream position at takeover), in order."""
        return [(int(r[0]), int(r[1]), r[2], int(r[3])) for r in self._db.execute(
            "SELECT part, epoch, owner, stream_seq FROM lease_history ORDER BY part, epoch")]

    def close(self) -> None:
        self._db.close()
