"""The partitions' outboxes as one `Outbox`, for dispatchers: each claims due messages
partition by partition with `FOR UPDATE SKIP LOCKED` under a lease, so several dispatchers run
at once and none sends a message another holds."""

from __future__ import annotations

import threading

import psycopg

from ..store import OutboxItem
from ..store.postgres import claim_due, mark, split_url
from ._layout import partition_schema


class ClusterOutbox:
    def __init__(self, url: str, partitions: int) -> None:
        conninfo, base = split_url(url)
        self.schemas = [partition_schema(base, p) for p in range(partitions)]
        self._db = psycopg.connect(conninfo, autocommit=True,
                                   application_name="intently-dispatch")
        self._lock = threading.Lock()
        self._where: dict[str, str] = {}  # message id -> its schema, while claimed
        self._start = 0

    def _existing(self) -> list[str]:
        found = {r[0] for r in self._db.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox' "
            "AND table_schema = ANY(%s)", (self.schemas,))}
        return [s for s in self.schemas if s in found]

    def claim_due(self, now: float, owner: str, lease_s: float = 60.0, limit: int = 100
                  ) -> list[OutboxItem]:
        """Up to `limit` due messages, from the partitions in turn (each call starts one
        partition further, so a busy partition cannot starve the others)."""
        with self._lock:
            schemas = self._existing()
            if not schemas:
                return []
            self._start = (self._start + 1) % len(schemas)
            taken: list[OutboxItem] = []
            for schema in schemas[self._start:] + schemas[: self._start]:
                if len(taken) >= limit:
                    break
                for item in claim_due(self._db, schema, now, owner, lease_s,
                                      limit - len(taken)):
                    self._where[item.id] = schema
                    taken.append(item)
            return taken

    def mark(self, message_id: str, status: str, attempts: int, next_at: float, error: str,
             now: float) -> None:
        with self._lock:
            schema = self._where.pop(message_id)
            mark(self._db, schema, message_id, status, attempts, next_at, error, now)

    def close(self) -> None:
        self._db.close()
