"""The suppression list as ingest reads it: keyed digests of identity keys whose events are
dropped before they are logged (an erased person's identifiers, or ones suppressed without
deleting). The digest is a keyed BLAKE2b of the key, so the list names no one, and costs
nothing while it is empty."""

from __future__ import annotations

import hashlib
import logging

from ..events import Event
from ..profiles import lookup_keys
from ..store import Catalog, PrivacyStore

_log = logging.getLogger("intently.privacy")
COUNTER = "privacy.suppressed_events"


class SuppressionList:
    def __init__(self, store: PrivacyStore, catalog: Catalog, secret: bytes) -> None:
        self._key = hashlib.blake2b(b"intently:suppression", key=secret[:64]).digest()
        self.digests: set[str] = {s.digest for s in store.suppressions()}
        self._catalog = catalog
        # one count per schema: a cluster's partitions share their catalog
        schema = getattr(store, "schema", None)
        self._counter = f"{COUNTER}:{schema}" if schema else COUNTER
        self.events_dropped = int(catalog.get_meta(self._counter) or 0)

    def digest(self, key: str) -> str:
        return hashlib.blake2b(key.encode(), key=self._key, digest_size=16).hexdigest()

    def blocked(self, batch: list[Event]) -> set[int]:
        """The indexes of events that carry a suppressed identity key."""
        digests = self.digests
        if not digests:
            return set()
        digest = self.digest
        return {i for i, ev in enumerate(batch)
                if any(digest(k) in digests for k in lookup_keys(ev))}

    def dropped(self, n: int) -> None:
        """Count events dropped (kept in the catalog, so the count survives restarts)."""
        self.events_dropped += n
        _log.info("events of suppressed identities dropped", extra={
            "events": n, "total": self.events_dropped})
        self._catalog.set_meta(self._counter, str(self.events_dropped))


class Pseudonyms:
    """Keyed hashes of record ids for analytics outputs (segment member lists): the same
    customer gets the same pseudonym in every export from one store, and nobody without the
    store's secret can tell who it is."""

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.blake2b(b"intently:pseudonym", key=secret[:64]).digest()

    def __call__(self, record_id: str) -> str:
        return "ps_" + hashlib.blake2b(record_id.encode(), key=self._key,
                                       digest_size=10).hexdigest()
