"""Dashboard sessions logged out before they expire: their ids, kept in the catalog so that a
restart does not bring them back (a session's token is signed, not stored: a logout is what
must be remembered, until the token would have expired anyway)."""

from __future__ import annotations

import json
import threading
import time

from ..store import Catalog

META = "dashboard.revoked_sessions"


class Sessions:
    def __init__(self, catalog: Catalog) -> None:
        raw = catalog.get_meta(META)
        self._revoked: dict[str, float] = json.loads(raw) if raw else {}
        self._lock = threading.Lock()

    def revoked(self, sid: str) -> bool:
        return sid in self._revoked

    def revoke(self, sid: str, expires: float) -> str:
        """Remember a logout; returns what to keep in the catalog (expired ids dropped)."""
        now = time.time()
        with self._lock:
            kept = {s: t for s, t in self._revoked.items() if t > now}
            kept[sid] = expires
            self._revoked = kept
            return json.dumps(kept, sort_keys=True)
