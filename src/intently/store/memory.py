"""An in-memory backend for tests and throwaway runs. Same contract, no durability."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence

from ..profiles import Merge
from ._base import LogRow, SegmentChange, StoredEvent


class MemoryStore:
    def __init__(self) -> None:
        self.url = "memory://"
        self._lock = threading.RLock()
        self._events: list[LogRow] = []
        self._seqs: list[int] = []
        self._message_ids: dict[str, int] = {}
        self._profiles: dict[str, bytes] = {}
        self._identities: dict[str, str] = {}
        self._merges: list[Merge] = []
        self._checkpoint = 0
        self._models: list[tuple[str, str, bytes]] = []
        self._segments: dict[str, bytes] = {}
        self._members: dict[str, dict[str, float]] = {}
        self._changes: list[SegmentChange] = []
        self._timers: dict[str, float] = {}
        self._pending: tuple[dict[str, int], list[LogRow]] | None = None

    def begin(self) -> None:
        self._lock.acquire()
        self._pending = ({}, [])

    def claim(self, message_ids: Sequence[str], first_seq: int) -> set[int]:
        assert self._pending is not None, "claim outside a transaction"
        claimed = self._pending[0]
        dupes = set()
        for i, mid in enumerate(message_ids):
            if mid in self._message_ids or mid in claimed:
                dupes.add(i)
            else:
                claimed[mid] = first_seq + i
        return dupes

    def append(self, rows: Sequence[LogRow]) -> None:
        assert self._pending is not None, "append outside a transaction"
        self._pending[1].extend(rows)

    def commit(self) -> None:
        try:
            assert self._pending is not None
            claimed, rows = self._pending
            self._message_ids.update(claimed)
            for row in sorted(rows):
                self._events.append(row)
                self._seqs.append(row[0])
        finally:
            self._pending = None
            self._lock.release()

    def rollback(self) -> None:
        self._pending = None
        self._lock.release()

    def last_seq(self) -> int:
        return self._seqs[-1] if self._seqs else 0

    def read_log(self, after: int, batch: int = 5000) -> Iterator[list[StoredEvent]]:
        start = bisect.bisect_right(self._seqs, after)
        while start < len(self._events):
            rows = self._events[start : start + batch]
            yield [(r[0], r[2], r[3], r[4]) for r in rows]
            start += len(rows)

    def events_since(self, ts: float, batch: int = 5000) -> Iterator[list[tuple[str, bytes]]]:
        rows = [(r[1], r[4]) for r in self._events if r[2] >= ts]
        for start in range(0, len(rows), batch):
            yield rows[start : start + batch]

    def timeline(self, customer_ids: Sequence[str], limit: int = 100) -> list[StoredEvent]:
        wanted = set(customer_ids)
        found = [(r[0], r[2], r[3], r[4]) for r in reversed(self._events) if r[1] in wanted]
        return found[:limit]

    def count_events(self) -> int:
        return len(self._events)

    def checkpoint(self, seq: int, profiles: dict[str, bytes | None],
                   identities: dict[str, str], merges: Sequence[Merge],
                   changes: Sequence[SegmentChange] = (),
                   timers: dict[str, float | None] | None = None) -> None:
        with self._lock:
            for pid, segment, entered, ts in changes:
                self._changes.append((pid, segment, entered, ts))
                members = self._members.setdefault(segment, {})
                if entered:
                    members[pid] = ts
                else:
                    members.pop(pid, None)
            for pid, due in (timers or {}).items():
                if due is None:
                    self._timers.pop(pid, None)
                else:
                    self._timers[pid] = due
            for pid, body in profiles.items():
                if body is None:
                    self._profiles.pop(pid, None)
                    self._timers.pop(pid, None)
                    for members in self._members.values():
                        members.pop(pid, None)
                else:
                    self._profiles[pid] = body
            self._identities.update(identities)
            self._merges.extend(merges)
            self._checkpoint = seq

    def save_segment(self, name: str, body: bytes | None) -> None:
        if body is None:
            self._segments.pop(name, None)
        else:
            self._segments[name] = body

    def load_segments(self) -> dict[str, bytes]:
        return dict(self._segments)

    def segment_members(self, segment: str, limit: int = 1000, offset: int = 0
                        ) -> list[tuple[str, float]]:
        return sorted(self._members.get(segment, {}).items())[offset : offset + limit]

    def segment_sizes(self) -> dict[str, int]:
        return {s: len(m) for s, m in self._members.items() if m}

    def segment_changes(self, segment: str, since: float = 0.0) -> list[tuple[str, bool, float]]:
        return [(p, e, t) for p, s, e, t in sorted(self._changes, key=lambda c: c[3])
                if s == segment and t >= since]

    def load_timers(self) -> dict[str, float]:
        return dict(self._timers)

    def checkpoint_seq(self) -> int:
        return self._checkpoint

    def load_profile(self, profile_id: str) -> bytes | None:
        return self._profiles.get(profile_id)

    def resolve(self, key: str) -> str | None:
        return self._identities.get(key)

    def resolve_any(self) -> str | None:
        return next(iter(self._identities), None)

    def merges(self, profile_id: str) -> list[Merge]:
        return [m for m in self._merges if m.into_id == profile_id]

    def profile_ids(self, limit: int = 100, offset: int = 0) -> list[str]:
        return sorted(self._profiles)[offset : offset + limit]

    def save_model(self, name: str, version: str, body: bytes) -> None:
        self._models.append((name, version, body))

    def load_model(self, name: str) -> bytes | None:
        found = [body for n, _, body in self._models if n == name]
        return found[-1] if found else None

    def model_versions(self, name: str) -> list[str]:
        return [v for n, v, _ in self._models if n == name]

    def count_profiles(self) -> int:
        return len(self._profiles)

    def close(self) -> None:
        pass
