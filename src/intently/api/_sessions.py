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


class LoginThrottle:
    """Failed sign-ins, per user name (or per client address, for keys): after `limit` of them
    within `window_s`, that name is refused until the oldest ages out. Bounded: at most
    `names` are remembered (the oldest forgotten first)."""

    def __init__(self, limit: int = 5, window_s: float = 900.0, names: int = 10_000) -> None:
        self.limit, self.window_s, self.names = limit, window_s, names
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, who: str, now: float) -> float:
        """Seconds until `who` may try again (0: now)."""
        with self._lock:
            recent = [t for t in self._failures.get(who, ()) if t > now - self.window_s]
            if len(recent) < self.limit:
                return 0.0
            return recent[-self.limit] + self.window_s - now

    def failed(self, who: str, now: float) -> None:
        with self._lock:
            recent = [t for t in self._failures.pop(who, ()) if t > now - self.window_s]
            self._failures[who] = [*recent[-self.limit:], now]
            while len(self._failures) > self.names:
                del self._failures[next(iter(self._failures))]

    def passed(self, who: str) -> None:
        with self._lock:
            self._failures.pop(who, None)
