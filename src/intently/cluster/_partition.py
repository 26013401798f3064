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
        self.ceiling: int | None = None
        """The stream position no write moves past (just before moves and adoptions
        gathered and not applied yet; None when there are none)."""
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

    def moved_since(self, keys: Sequence[str], since: float) -> set[str]:
        """Those of these keys that moved home (into this partition) after `since`."""
        return {str(k) for (k,) in self._rows(
            f"SELECT key FROM {self._homes} WHERE key = ANY(%s) "  # type: ignore[arg-type]
            "AND moved_at > %s", (list(keys), since))}

    def move_out(self, going: Sequence[tuple[Leaving | None, Sequence[str], int]],
                 now: float) -> None:
        """In one fenced transaction, for each (`gone`, `keys`, `to`): delete what moved
        (`gone`: the records, their identities, events, merges, memberships and timers;
        their messages and journal stay, as the history of what was sent from here) and the
        identities of `keys` (a key that moves alone), leave forwarding entries for `keys`,
        and point their homes at partition `to`."""
        part = self.lease.partition
        ids = [rid for gone, _, _ in going if gone is not None for rid in gone.record_ids]
        seqs = [seq for gone, _, _ in going if gone is not None for seq in gone.seqs]
        held = [k for gone, _, _ in going if gone is not None for k in gone.keys]
        held += [k for gone, ks, _ in going if gone is None for k in ks]  # keys moving alone
        keys = [k for _, ks, _ in going for k in ks]
        tos = [to for _, ks, to in going for _ in ks]
        records = [gone.record.id if gone is not None else "" for gone, ks, _ in going
                   for _ in ks]
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            for table, column, values in (
                    ("events", "seq", seqs), ("profiles", "id", ids),
                    ("identities", "profile_id", ids), ("identities", "key", held),
                    ("merges", "into_id", ids), ("merges", "from_id", ids),
                    ("segment_members", "profile_id", ids), ("timers", "profile_id", ids)):
                if values:
                    cur.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)",  # type: ignore[arg-type]
                                (values,))
            cur.execute("INSERT INTO forwards (key, part, record_id, at) "
                        "SELECT k, p, r, %s FROM unnest(%s::text[], %s::int[], %s::text[]) "
                        "AS t(k, p, r) ON CONFLICT (key) DO UPDATE SET part = excluded.part, "
                        "record_id = excluded.record_id, at = excluded.at",
                        (now, keys, tos, records))
            cur.execute(f"UPDATE {self._homes} h SET part = t.p, moved_at = %s "  # type: ignore[arg-type]
                        "FROM unnest(%s::text[], %s::int[]) AS t(k, p) "
                        "WHERE h.key = t.k AND h.part = %s", (now, keys, tos, part))
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
        if self.ceiling is not None:
            seq = min(seq, self.ceiling)
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
