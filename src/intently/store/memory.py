"""An in-memory backend for tests and throwaway runs. Same contract, no durability."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ..profiles import Merge
from ._base import (
    Account,
    AccountUpdate,
    JournalEntry,
    LogRow,
    OutboxItem,
    OutboxRow,
    SegmentChange,
    SetAside,
    StoredEvent,
)


class MemoryStore:
    def __init__(self) -> None:
        self.url = "memory://"
        self._lock = threading.RLock()
        self._events: list[LogRow] = []
        self._seqs: list[int] = []
        self._message_ids: dict[str, int] = {}
        self._order_ids: dict[str, int] = {}
        self._pending_orders: dict[str, int] = {}
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
        self._pending_effects: list[tuple[Sequence[OutboxRow], Sequence[JournalEntry]]] = []
        self._outbox: dict[str, list] = {}  # id -> OutboxItem fields, as a mutable list
        self._journal: dict[str, JournalEntry] = {}
        self._scenarios: dict[str, bytes] = {}
        self._meta: dict[str, str] = {}
        self._set_aside: dict[int, tuple[str, float]] = {}
        self._pending_aside: dict[int, tuple[str, float]] = {}
        self._accounts: dict[str, Account] = {}
        self._pending_accounts: list[AccountUpdate] = []

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

    def claim_orders(self, orders: Sequence[tuple[str, int]]) -> set[int]:
        if self._pending is None:
            raise RuntimeError("claim_orders outside a transaction")
        taken = set()
        for order_id, seq in orders:
            owner = self._order_ids.get(order_id, self._pending_orders.get(order_id))
            if owner is None:
                self._pending_orders[order_id] = seq
            elif owner != seq:
                taken.add(seq)
        return taken

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
            for messages, journal in self._pending_effects:
                for m in messages:
                    if m[0] not in self._outbox:
                        self._outbox[m[0]] = [*m[:6], "pending", 0, "", 0.0, m[6], m[5],
                                              len(self._outbox)]
                for j in journal:
                    self._journal.setdefault(j[0], tuple(j))  # type: ignore[arg-type]
            self._set_aside.update(self._pending_aside)
            self._order_ids.update(self._pending_orders)
            for update in self._pending_accounts:
                self._apply_account(*update)
        finally:
            self.rollback()

    def rollback(self) -> None:
        self._pending = None
        self._pending_effects = []
        self._pending_aside = {}
        self._pending_orders = {}
        self._pending_accounts = []
        self._lock.release()

    # -- accounts
    def put_accounts(self, updates: Sequence[AccountUpdate]) -> None:
        if self._pending is None:
            raise RuntimeError("put_accounts outside a transaction")
        self._pending_accounts.extend(updates)

    def _apply_account(self, account_id: str, traits: dict[str, Any], ts: float,
                       member: str) -> None:
        old = self._accounts.get(account_id)
        if old is None:
            self._accounts[account_id] = Account(account_id, dict(traits), ts, ts, [(member, ts)])
            return
        members = old.members if any(m == member for m, _ in old.members) else [
            *old.members, (member, ts)]
        self._accounts[account_id] = Account(account_id, {**old.traits, **traits},
                                             min(old.first_seen, ts), max(old.last_seen, ts),
                                             members)

    def account(self, account_id: str) -> Account | None:
        with self._lock:
            return self._accounts.get(account_id)

    def accounts_of(self, keys: Sequence[str]) -> list[str]:
        wanted = set(keys)
        with self._lock:
            return sorted(a.id for a in self._accounts.values()
                          if any(m in wanted for m, _ in a.members))

    def account_ids(self, limit: int = 100, offset: int = 0) -> list[str]:
        with self._lock:
            return sorted(self._accounts)[offset:offset + limit]

    # -- the outbox
    def put_effects(self, messages: Sequence[OutboxRow], journal: Sequence[JournalEntry]) -> None:
        assert self._pending is not None, "put_effects outside a transaction"
        self._pending_effects.append((list(messages), list(journal)))

    def outbox_due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        with self._lock:
            due = sorted((m for m in self._outbox.values()
                          if m[6] in ("pending", "sending") and m[11] <= now),
                         key=lambda m: (m[11], m[12]))
            return [tuple(m[:11]) for m in due[:limit]]  # type: ignore[misc]

    def outbox_mark(self, message_id: str, status: str, attempts: int, next_at: float,
                    error: str, now: float) -> None:
        with self._lock:
            m = self._outbox.get(message_id)
            if m is not None:
                m[6:10] = [status, attempts, error, now]
                m[11] = next_at

    def outbox(self, limit: int = 100, scenario: str | None = None,
               profile_id: str | None = None) -> list[OutboxItem]:
        with self._lock:
            found = [m for m in self._outbox.values()
                     if (scenario is None or m[1] == scenario)
                     and (profile_id is None or m[2] == profile_id)]
            found.sort(key=lambda m: (m[5], m[12]), reverse=True)
            return [tuple(m[:11]) for m in found[:limit]]  # type: ignore[misc]

    def outbox_counts(self, scenario: str) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        with self._lock:
            for m in self._outbox.values():
                if m[1] == scenario:
                    counts[(m[3], m[6])] = counts.get((m[3], m[6]), 0) + 1
        return counts

    def journal_counts(self, scenario: str) -> list[tuple[str, str, int, float, int]]:
        groups: dict[tuple[str, str], list] = {}
        with self._lock:
            for j in self._journal.values():
                if j[1] == scenario:
                    g = groups.setdefault((j[3], j[4]), [0, 0.0, set()])
                    g[0] += 1
                    g[1] += j[6]
                    g[2].add(j[2])
        return [(arm, kind, g[0], g[1], len(g[2])) for (arm, kind), g in groups.items()]

    def journal(self, profile_id: str | None = None, scenario: str | None = None,
                limit: int = 100) -> list[JournalEntry]:
        with self._lock:
            found = [j for j in self._journal.values()
                     if (profile_id is None or j[2] == profile_id)
                     and (scenario is None or j[1] == scenario)]
        found.sort(key=lambda j: (-j[5], j[0]))
        return found[:limit]

    def save_scenario(self, name: str, body: bytes | None) -> None:
        if body is None:
            self._scenarios.pop(name, None)
        else:
            self._scenarios[name] = body

    def load_scenarios(self) -> dict[str, bytes]:
        return dict(self._scenarios)

    def get_meta(self, key: str) -> str | None:
        return self._meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        self._meta[key] = value

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

    def timeline(self, customer_ids: Sequence[str], limit: int = 100,
                 heads: Sequence[int] = ()) -> list[StoredEvent]:
        wanted = set(customer_ids)
        found = [(r[0], r[2], r[3], r[4]) for r in reversed(self._events) if r[1] in wanted]
        return found[:limit]

    def count_events(self) -> int:
        return len(self._events)

    def set_aside(self, seq: int, error: str, at: float) -> None:
        if self._pending is None:
            raise RuntimeError("set_aside outside a transaction")
        self._pending_aside[seq] = (error, at)

    def set_aside_seqs(self, after: int = 0) -> set[int]:
        return {s for s in self._set_aside if s > after}

    def set_aside_events(self, limit: int = 100) -> list[SetAside]:
        rows = {r[0]: r for r in self._events if r[0] in self._set_aside}
        return [(s, rows[s][2], rows[s][3], rows[s][4], *self._set_aside[s])
                for s in sorted(rows, reverse=True)[:limit]]

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
