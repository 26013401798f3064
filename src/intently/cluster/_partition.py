"""One partition's store: the PostgreSQL backend in the partition's schema, written only under
its lease, with definitions shared by the whole cluster; and the forwarding entries of the
identity keys whose records moved to another partition (`forwards`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from .._errors import StoreError
from ..engine import Leaving
from ..store.postgres import PostgresStore
from ._leases import Lease

_log = logging.getLogger("intently.cluster")


class Fenced(StoreError):
    """This worker's lease on the partition was taken over: nothing it wrote was kept."""


class PartitionStore(PostgresStore):
    def __init__(self, url: str, lease: Lease, cluster_schema: str, *,
                 durability: str = "fsync") -> None:
        super().__init__(url, durability=durability, writer_lock=False,
                         definitions=cluster_schema)
        self.lease = lease
        self._leases = f"{cluster_schema}.leases"
        self.offsets: dict[str, int] = {}
        """Message id -> stream position, for the events in hand: a commit records the
        highest position among the events it claimed."""
        self.floor = 0
        """The stream position a write moves past whatever it claims (the control message
        being applied; 0 between them)."""
        self._homes = f"{cluster_schema}.homes"
        self._run("CREATE TABLE IF NOT EXISTS forwards (key TEXT PRIMARY KEY, "
                  "part INTEGER NOT NULL, record_id TEXT NOT NULL, "
                  "at DOUBLE PRECISION NOT NULL)")

    @contextmanager
    def passing(self, seq: int) -> Iterator[None]:
        """Writes in the block move the partition's position past `seq` (a control message
        applied by them; 0: no message)."""
        floor, self.floor = self.floor, seq
        try:
            yield
        finally:
            self.floor = floor

    def advance(self, seq: int) -> None:
        """Move the partition's position past `seq` with nothing else written (messages
        forwarded or skipped), under the fence."""
        with self.passing(seq), self._lock, self._db.transaction(), self._db.cursor() as cur:
            self._fence(cur, ())

    def forwards(self) -> dict[str, int]:
        """Identity key -> the partition its record moved to."""
        return {str(k): int(p) for k, p in self._rows("SELECT key, part FROM forwards")}

    def moved_since(self, keys: Sequence[str], since: float) -> bool:
        """Whether one of these keys moved home (into this partition) after `since`."""
        row = self._one(f"SELECT EXISTS (SELECT 1 FROM {self._homes} "  # type: ignore[arg-type]
                        "WHERE key = ANY(%s) AND moved_at > %s)", (list(keys), since))
        return bool(row and row[0])

    def move_out(self, gone: Leaving | None, keys: Sequence[str], to: int, now: float,
                 seq: int) -> None:
        """In one fenced transaction: delete what moved (`gone`: the records, their
        identities, events, merges, memberships and timers; their messages and journal stay,
        as the history of what was sent from here) and the identities of `keys` (a key that
        moves alone), leave forwarding entries for `keys`, and
        point their homes at partition `to`; the position passes the move (`seq`)."""
        part = self.lease.partition
        record = gone.record.id if gone is not None else ""
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            if gone is not None:
                ids = list(gone.record_ids)
                for table, column, values in (
                        ("events", "seq", list(gone.seqs)),
                        ("profiles", "id", ids), ("identities", "profile_id", ids),
                        ("identities", "key", list(gone.keys)), ("merges", "into_id", ids),
                        ("merges", "from_id", ids), ("segment_members", "profile_id", ids),
                        ("timers", "profile_id", ids)):
                    cur.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)",  # type: ignore[arg-type]
                                (values,))
            cur.execute("DELETE FROM identities WHERE key = ANY(%s)", (list(keys),))
            cur.execute("INSERT INTO forwards (key, part, record_id, at) "
                        "SELECT k, %s, %s, %s FROM unnest(%s::text[]) AS t(k) "
                        "ON CONFLICT (key) DO UPDATE SET part = excluded.part, "
                        "record_id = excluded.record_id, at = excluded.at",
                        (to, record, now, list(keys)))
            cur.execute(f"UPDATE {self._homes} SET part = %s, moved_at = %s "  # type: ignore[arg-type]
                        "WHERE key = ANY(%s) AND part = %s", (to, now, list(keys), part))
            with self.passing(seq):
                self._fence(cur, ())

    def erase_moved(self, keys: Sequence[str]) -> int:
        """An erasure's part here beyond the records this partition holds: the messages,
        journal rows and segment history that records moved away with one of `keys` left,
        the forwarding entries, and the homes of the keys. Returns the rows deleted."""
        keys = list(keys)
        deleted = 0
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            cur.execute("SELECT DISTINCT record_id FROM forwards WHERE key = ANY(%s) "
                        "AND record_id <> ''", (keys,))
            ids = [r[0] for r in cur.fetchall()]
            if ids:
                cur.execute("SELECT key FROM forwards WHERE record_id = ANY(%s)", (ids,))
                keys += [r[0] for r in cur.fetchall()]
            for table, column, values in (
                    ("outbox", "profile_id", ids), ("journal", "profile_id", ids),
                    ("segment_changes", "profile_id", ids), ("forwards", "key", keys)):
                cur.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)",  # type: ignore[arg-type]
                            (values,))
                deleted += max(cur.rowcount, 0)
            cur.execute(f"DELETE FROM {self._homes} WHERE key = ANY(%s) "  # type: ignore[arg-type]
                        "AND part = %s", (keys, self.lease.partition))
            self._fence(cur, ())
        return deleted

    def _fence(self, cur: psycopg.Cursor[Any], claimed: Sequence[str]) -> None:
        offsets = self.offsets
        seq = max(self.floor, max((offsets.get(m, 0) for m in claimed), default=0))
        lease = self.lease
        cur.execute(
            f"UPDATE {self._leases} SET stream_seq = greatest(stream_seq, %s) "  # type: ignore[arg-type]
            "WHERE part = %s AND owner = %s AND epoch = %s",
            (seq, lease.partition, lease.owner, lease.epoch))
        if cur.rowcount != 1:
            _log.warning("commit refused: the partition's lease was taken over", extra={
                "partition": lease.partition, "epoch": lease.epoch, "owner": lease.owner})
            raise Fenced(f"partition {lease.partition}: epoch {lease.epoch} of {lease.owner} "
                         "is no longer the lease holder")
