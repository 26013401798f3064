"""What a gateway reads from a cluster's tables for the privacy routes: a person's export and
the privacy journal.

An export is a control message first: every partition's owner writes all the records it holds
and journals its part (`<request>:p<n>`), in order with its events. Once every partition has
answered, the gateway reads. A person lives in one partition, but records kept apart (a
shared device, an email under two user ids) may sit in others, so it asks every
partition's identity table for the identifier's keys (as digests, where the cluster seals
them), opens a read-only engine on each partition that holds the person, and merges their
bundles. The journal lives in the cluster's shared schema."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Collection
from typing import Any

import psycopg

from .._errors import NotFound, StoreError
from ..config import Settings
from ..engine import SUPPRESSED_EVENTS, Engine, candidate_keys
from ..profiles import Profile
from ..store import SEALING_META, keyring
from ..store.postgres import PostgresStore, split_url, with_schema
from ._layout import partition_schema
from ._stream import Control

Bundle = Callable[[Engine, Profile], dict[str, Any]]
Merge = Callable[[list[dict[str, Any]]], dict[str, Any]]
EXPORT_WAIT_S = 30.0
"""How long an export waits for every partition's owner to answer."""


class ClusterReads:
    """`bundle` and `merge`: how a record's export is built and several are made one (the
    surfaces' views, `_views.export_view` and `_views.merged_export`); `control`: how a
    request reaches every partition (`Gateway.control`)."""

    def __init__(self, settings: Settings, bundle: Bundle, merge: Merge,
                 control: Control) -> None:
        self.settings = settings
        self._bundle, self._merge, self._control = bundle, merge, control
        self._conninfo, self._base = split_url(settings.db)

    async def exported(self, identifier: str, actor: str) -> dict[str, Any]:
        """The person's export: asked of every partition's owner (each writes what it holds
        and journals its part), then read once all have answered."""
        request = uuid.uuid4().hex
        await self._control("export", {"request": request, "identifier": identifier,
                                       "actor": actor})
        await asyncio.to_thread(self.answered, request, EXPORT_WAIT_S)
        return await asyncio.to_thread(self.export, identifier)

    def partitions_of(self, keys: Collection[str], record_id: str = "") -> list[int]:
        """The partitions that hold a record with one of these identity keys (or this record
        id)."""
        schemas = {partition_schema(self._base, p): p for p in range(self.settings.partitions)}
        with psycopg.connect(self._conninfo, autocommit=True) as db:
            row = db.execute(f"SELECT value FROM {self._base}.meta WHERE key = %s",
                             (SEALING_META,)).fetchone()
            ring = keyring(row[0] if row else None, self.settings.encryption_keys)
            kept = [ring.key(k) if ring else k for k in keys]
            found = [s for (s,) in db.execute(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = "
                "'identities' AND table_schema = ANY(%s)", (list(schemas),))]
            if not found:
                return []
            query = " UNION ALL ".join(
                f"SELECT {schemas[s]} WHERE EXISTS (SELECT 1 FROM {s}.identities WHERE key = "
                f"ANY(%(keys)s)) OR EXISTS (SELECT 1 FROM {s}.profiles WHERE id = %(id)s)"
                for s in sorted(found))
            return sorted(p for (p,) in db.execute(query, {"keys": kept, "id": record_id}))

    def answered(self, request: str, timeout_s: float) -> None:
        """Wait until every partition journaled its part of `request` (at most `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        with psycopg.connect(self._conninfo, autocommit=True) as db:
            while True:
                row = db.execute(f"SELECT count(*) FROM {self._base}.privacy_log WHERE id "
                                 "LIKE %s", (request + ":p%",)).fetchone()
                if row and row[0] >= self.settings.partitions:
                    return
                if time.monotonic() >= deadline:
                    raise StoreError(f"{row[0] if row else 0} of {self.settings.partitions} "
                                     f"partitions answered within {timeout_s:g} s (one without "
                                     "a worker?); try again")
                time.sleep(0.05)

    def export(self, identifier: str) -> dict[str, Any]:
        """Everything the cluster's tables hold on the person, as one bundle (after an export
        request every partition answered: `answered`). The records found lead to the others:
        an email in one partition, the same user id in another."""
        bundles: list[dict[str, Any]] = []
        keys, seen = set(candidate_keys(identifier)), set[int]()
        while parts := [p for p in self.partitions_of(keys, identifier) if p not in seen]:
            for part in parts:
                seen.add(part)
                store = PostgresStore(with_schema(self.settings.db,
                                                  partition_schema(self._base, part)),
                                      readonly=True, definitions=self._base)
                engine = Engine(store, settings=self.settings, readonly=True)
                try:
                    profile = next((p for p in map(engine.find, [identifier, *(
                        k[2:] for k in sorted(keys))]) if p is not None), None)
                    if profile is not None:
                        bundles.append(self._bundle(engine, profile))
                        keys.update(k for k in profile.identities if not k.startswith("m:"))
                finally:
                    engine.close()
        if not bundles:
            raise NotFound(f"no customer {identifier!r}")
        return self._merge(bundles)

    async def journal(self, limit: int) -> dict[str, Any]:
        return await asyncio.to_thread(self.log, limit)

    def log(self, limit: int) -> dict[str, Any]:
        """The privacy journal (newest first), and the events of suppressed people dropped,
        over every partition."""
        shared = PostgresStore(self.settings.db, readonly=True)
        try:
            rows = [r._asdict() for r in shared.privacy_log(limit)]
            dropped = sum(int(shared.get_meta(
                f"{SUPPRESSED_EVENTS}:{partition_schema(self._base, p)}") or 0)
                for p in range(self.settings.partitions))
        finally:
            shared.close()
        return {"requests": rows, "suppressed_events": dropped}
