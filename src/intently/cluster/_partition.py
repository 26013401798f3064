"""One partition's store: the PostgreSQL backend in the partition's schema, written only under
its lease, with definitions shared by the whole cluster."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg

from .._errors import StoreError
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

    def _fence(self, cur: psycopg.Cursor[Any], claimed: Sequence[str]) -> None:
        offsets = self.offsets
        seq = max((offsets.get(m, 0) for m in claimed), default=0)
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
