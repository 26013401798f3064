"""The partitions' outboxes as one `Outbox`, for dispatchers: each claims due messages
partition by partition with `FOR UPDATE SKIP LOCKED` under a lease, so several dispatchers run
at once and none sends a message another holds."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import psycopg

from ..store import SEALING_META, Keyring, OutboxItem, keyring, opened, sealed_error
from ..store.postgres import claim_due, mark, split_url
from ._layout import partition_schema


class ClusterOutbox:
    """`keys`: the master keys (`encryption_keys`), when the partitions seal personal data
    (under the cluster's data keys, in its shared schema's meta)."""

    def __init__(self, url: str, partitions: int, keys: Sequence[str] = ()) -> None:
        conninfo, base = split_url(url)
        self.schemas = [partition_schema(base, p) for p in range(partitions)]
        self._base = base
        self._keys = tuple(keys)
        self._loaded = False
        self._keyring: Keyring | None = None
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
                    taken.append(opened(self._ring(schema), item))
            return taken

    def _ring(self, schema: str) -> Keyring | None:
        """The keyring the partitions seal with (the same for all: `schema` is for a future
        with one per partition)."""
        if not self._loaded:
            row = self._db.execute(f"SELECT value FROM {self._base}.meta WHERE key = %s",
                                   (SEALING_META,)).fetchone()
            self._keyring = keyring(row[0] if row else None, self._keys)
            self._loaded = True
        return self._keyring

    def mark(self, message_id: str, status: str, attempts: int, next_at: float, error: str,
             now: float) -> None:
        with self._lock:
            schema = self._where.pop(message_id)
            mark(self._db, schema, message_id, status, attempts, next_at,
                 sealed_error(self._ring(schema), error), now)

    def close(self) -> None:
        self._db.close()
