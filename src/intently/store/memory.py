"""An in-memory backend for tests and throwaway runs. Same contracts, no durability."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from .._errors import StoreError
from ._rows import (
    Account,
    AccountMember,
    AccountUpdate,
    Backlog,
    Erasure,
    JournalChain,
    JournalCount,
    JournalEntry,
    LogRow,
    Member,
    Merge,
    Movement,
    OutboxItem,
    OutboxRow,
    PrivacyRequest,
    RecordEvent,
    SegmentChange,
    SetAside,
    StoredEvent,
    Subject,
    Suppression,
    mentions,
)
from ._tx import EndsOnExit


@dataclass
class _Message:
    """An outbox message with its delivery state (mutable, unlike the rows handed out)."""

    row: OutboxRow
    order: int
    status: str = "pending"
    attempts: int = 0
    error: str = ""
    updated: float = 0.0
    next_at: float = 0.0
    owner: str = ""
    lease_until: float = 0.0

    def item(self) -> OutboxItem:
        r = self.row
        return OutboxItem(r.id, r.scenario, r.profile_id, r.arm, r.channel, r.due, self.status,
                          self.attempts, self.error, self.updated, r.body)


@dataclass
class _Transaction(EndsOnExit):
    store: MemoryStore
    claimed: dict[str, int] = field(default_factory=dict)
    rows: list[LogRow] = field(default_factory=list)
    orders: dict[str, int] = field(default_factory=dict)
    aside: dict[int, tuple[str, float]] = field(default_factory=dict)
    accounts: list[AccountUpdate] = field(default_factory=list)
    messages: list[OutboxRow] = field(default_factory=list)
    journal: list[JournalEntry] = field(default_factory=list)
    state: list[tuple[Any, ...]] = field(default_factory=list)
    open: bool = True

    def claim(self, message_ids: Sequence[str], first_seq: int) -> set[int]:
        known, claimed = self.store._message_ids, self.claimed
        dupes = set()
        for i, mid in enumerate(message_ids):
            if mid in known or mid in claimed:
                dupes.add(i)
            else:
                claimed[mid] = first_seq + i
        return dupes

    def claim_orders(self, orders: Sequence[tuple[str, int]]) -> set[int]:
        taken = set()
        for order_id, seq in orders:
            owner = self.store._order_ids.get(order_id, self.orders.get(order_id))
            if owner is None:
                self.orders[order_id] = seq
            elif owner != seq:
                taken.add(seq)
        return taken

    def next_seq(self) -> int:
        return (self.rows[-1][0] if self.rows else self.store.last_seq()) + 1

    def append(self, rows: Sequence[LogRow]) -> None:
        if not rows:
            return
        if rows[0][0] < self.next_seq():
            raise StoreError(f"log position {rows[0][0]} is taken (next is {self.next_seq()})")
        self.rows.extend(rows)

    def set_aside(self, seq: int, error: str, at: float) -> None:
        self.aside[seq] = (error, at)

    def put_accounts(self, updates: Sequence[AccountUpdate]) -> None:
        self.accounts.extend(updates)

    def put_effects(self, messages: Sequence[OutboxRow], journal: Sequence[JournalEntry],
                    chain: JournalChain | None = None) -> dict[str, int]:
        self.messages.extend(OutboxRow(*m) for m in messages)
        self.journal.extend(JournalEntry(*j) for j in [*journal, *(chain.rows if chain else ())])
        return {}  # kept by id per record: found without chains

    def put_state(self, seq: int, profiles: dict[str, bytes | None],
                  identities: dict[str, str], merges: Sequence[Merge],
                  changes: Sequence[SegmentChange] = (),
                  timers: dict[str, float | None] | None = None) -> None:
        self.state.append((seq, dict(profiles), dict(identities), list(merges), list(changes),
                           dict(timers or {})))

    def commit(self) -> None:
        if not self.open:
            raise RuntimeError("the transaction has ended")
        try:
            self.store._apply(self)
        finally:
            self._end()

    def rollback(self) -> None:
        if self.open:
            self._end()

    def _end(self) -> None:
        self.open = False
        self.store._lock.release()


class MemoryStore:
    def __init__(self) -> None:
        self.url = "memory://"
        self._lock = threading.RLock()
        self._events: list[LogRow] = []
        self._seqs: list[int] = []
        self._message_ids: dict[str, int] = {}
        self._order_ids: dict[str, int] = {}
        self._profiles: dict[str, bytes] = {}
        self._identities: dict[str, str] = {}
        self._merges: list[Merge] = []
        self._checkpoint = 0
        self._models: list[tuple[str, str, bytes]] = []
        self._segments: dict[str, bytes] = {}
        self._members: dict[str, dict[str, float]] = {}
        self._changes: list[SegmentChange] = []
        self._timers: dict[str, float] = {}
        self._outbox: dict[str, _Message] = {}
        self._journal: dict[tuple[str, str], JournalEntry] = {}
        self._scenarios: dict[str, bytes] = {}
        self._meta: dict[str, str] = {}
        self._set_aside: dict[int, tuple[str, float]] = {}
        self._accounts: dict[str, Account] = {}
        self._suppressed: dict[str, Suppression] = {}
        self._privacy: list[PrivacyRequest] = []

    # -- the event log
    def settle(self) -> None:
        """Commits here are in place: nothing lands later."""

    def transaction(self) -> _Transaction:
        self._lock.acquire()
        return _Transaction(self)

    def _apply(self, tx: _Transaction) -> None:
        self._message_ids.update(tx.claimed)
        for row in sorted(tx.rows):
            self._events.append(row)
            self._seqs.append(row[0])
        for m in tx.messages:
            if m.id not in self._outbox:
                self._outbox[m.id] = _Message(m, len(self._outbox), next_at=m.due)
        for j in tx.journal:
            self._journal.setdefault((j.profile_id, j.id), j)
        self._set_aside.update(tx.aside)
        self._order_ids.update(tx.orders)
        for update in tx.accounts:
            self._apply_account(update)
        for state in tx.state:
            self.checkpoint(*state)

    def last_seq(self) -> int:
        return self._seqs[-1] if self._seqs else 0

    def read_log(self, after: int, batch: int = 5000) -> Iterator[list[StoredEvent]]:
        start = bisect.bisect_right(self._seqs, after)
        while start < len(self._events):
            rows = self._events[start : start + batch]
            yield [StoredEvent(r[0], r[2], r[3], r[4]) for r in rows]
            start += len(rows)

    def events_since(self, ts: float, batch: int = 5000, until: int | None = None,
                     received_from: float | None = None) -> Iterator[list[RecordEvent]]:
        cursor = 0
        if received_from is not None:  # the longest start received before it: as marks say
            top = 0.0
            with self._lock:
                for row in self._events:
                    top = max(top, row[3])
                    if top >= received_from:
                        break
                    cursor = row[0]
        while True:
            with self._lock:
                end = until if until is not None else self.last_seq()
                start = bisect.bisect_right(self._seqs, cursor)
                if start >= len(self._seqs) or self._seqs[start] > end:
                    return
                cursor = self._seqs[start] - 1  # from the next event (positions may be unused)
                stop = min(end, cursor + batch)
                rows = [RecordEvent(r[1], r[4], r[2], r[3])
                        for r in self._events[start : bisect.bisect_right(self._seqs, stop)]
                        if r[2] >= ts]
            yield rows
            cursor = stop

    def count_events(self) -> int:
        return len(self._events)

    def set_aside_seqs(self, after: int = 0) -> set[int]:
        return {s for s in self._set_aside if s > after}

    def set_aside_events(self, limit: int = 100) -> list[SetAside]:
        rows = {r[0]: r for r in self._events if r[0] in self._set_aside}
        return [SetAside(s, rows[s][2], rows[s][3], rows[s][4], *self._set_aside[s])
                for s in sorted(rows, reverse=True)[:limit]]

    # -- checkpointed state
    def checkpoint(self, seq: int, profiles: dict[str, bytes | None],
                   identities: dict[str, str], merges: Sequence[Merge],
                   changes: Sequence[SegmentChange] = (),
                   timers: dict[str, float | None] | None = None) -> None:
        with self._lock:
            for change in changes:
                change = SegmentChange(*change)
                self._changes.append(change)
                members = self._members.setdefault(change.segment, {})
                if change.entered:
                    members[change.profile_id] = change.ts
                else:
                    members.pop(change.profile_id, None)
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

    def checkpoint_seq(self) -> int:
        return self._checkpoint

    def load_profile(self, profile_id: str) -> bytes | None:
        return self._profiles.get(profile_id)

    def load_profiles(self, profile_ids: Sequence[str]) -> dict[str, bytes]:
        found = self._profiles
        return {pid: found[pid] for pid in profile_ids if pid in found}

    def resolve(self, key: str) -> str | None:
        return self._identities.get(key)

    def snapshot_profile(self, profile_id: str) -> bytes | None:
        return self._profiles.get(profile_id)  # one dict read: atomic under the GIL

    def snapshot_identity(self, key: str) -> str | None:
        return self._identities.get(key)

    def resolve_many(self, keys: Sequence[str]) -> dict[str, str]:
        known = self._identities
        return {k: known[k] for k in keys if k in known}

    def resolve_any(self) -> str | None:
        return next(iter(self._identities), None)

    def merges(self, profile_id: str) -> list[Merge]:
        return [m for m in self._merges if m.into_id == profile_id]

    def load_timers(self) -> dict[str, float]:
        return dict(self._timers)

    def profile_ids(self, limit: int = 100, offset: int = 0, after: str | None = None
                    ) -> list[str]:
        ids = sorted(self._profiles)
        if after is not None:
            offset = bisect.bisect_right(ids, after)
        return ids[offset : offset + limit]

    def count_profiles(self) -> int:
        return len(self._profiles)

    # -- the outbox
    def claim_due(self, now: float, owner: str, lease_s: float = 60.0, limit: int = 100
                  ) -> list[OutboxItem]:
        with self._lock:
            due = sorted((m for m in self._outbox.values() if (
                m.status == "pending" and m.next_at <= now) or (
                m.status == "sending" and (m.lease_until <= now or m.owner == owner))),
                key=lambda m: (m.next_at, m.order))[:limit]
            for m in due:
                m.status, m.owner, m.lease_until = "sending", owner, now + lease_s
            return [m.item() for m in due]

    def mark(self, message_id: str, status: str, attempts: int, next_at: float, error: str,
             now: float) -> None:
        with self._lock:
            m = self._outbox.get(message_id)
            if m is not None:
                m.status, m.attempts, m.error, m.updated = status, attempts, error, now
                m.next_at = next_at
                m.owner, m.lease_until = "", 0.0

    # -- the catalog
    def save_segment(self, name: str, body: bytes | None) -> None:
        _save(self._segments, name, body)

    def load_segments(self) -> dict[str, bytes]:
        return dict(self._segments)

    def save_scenario(self, name: str, body: bytes | None) -> None:
        _save(self._scenarios, name, body)

    def load_scenarios(self) -> dict[str, bytes]:
        return dict(self._scenarios)

    def save_model(self, name: str, version: str, body: bytes) -> None:
        self._models.append((name, version, body))

    def load_model(self, name: str) -> bytes | None:
        found = [body for n, _, body in self._models if n == name]
        return found[-1] if found else None

    def model_versions(self, name: str) -> list[str]:
        return [v for n, v, _ in self._models if n == name]

    def get_meta(self, key: str) -> str | None:
        return self._meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        self._meta[key] = value

    # -- read models
    def timeline(self, record_ids: Sequence[str], limit: int = 100,
                 heads: Sequence[int] = ()) -> list[StoredEvent]:
        wanted = set(record_ids)
        found = [StoredEvent(r[0], r[2], r[3], r[4]) for r in reversed(self._events)
                 if r[1] in wanted]
        return found[:limit]

    def segment_members(self, segment: str, limit: int = 1000, offset: int = 0
                        ) -> list[Member]:
        members = sorted(self._members.get(segment, {}).items())[offset : offset + limit]
        return [Member(*m) for m in members]

    def segment_sizes(self) -> dict[str, int]:
        return {s: len(m) for s, m in self._members.items() if m}

    def segment_changes(self, segment: str, since: float = 0.0) -> list[Movement]:
        return [Movement(c.profile_id, c.entered, c.ts)
                for c in sorted(self._changes, key=lambda c: c.ts)
                if c.segment == segment and c.ts >= since]

    def outbox(self, limit: int = 100, scenario: str | None = None,
               profile_id: str | None = None) -> list[OutboxItem]:
        with self._lock:
            found = [m for m in self._outbox.values()
                     if (scenario is None or m.row.scenario == scenario)
                     and (profile_id is None or m.row.profile_id == profile_id)]
            found.sort(key=lambda m: (m.row.due, m.order), reverse=True)
            return [m.item() for m in found[:limit]]

    def outbox_counts(self, scenario: str) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        with self._lock:
            for m in self._outbox.values():
                if m.row.scenario == scenario:
                    key = (m.row.arm, m.status)
                    counts[key] = counts.get(key, 0) + 1
        return counts

    def outbox_backlog(self, now: float) -> Backlog:
        with self._lock:
            counts: dict[str, int] = {}
            for m in self._outbox.values():
                counts[m.status] = counts.get(m.status, 0) + 1
            due = [m.next_at for m in self._outbox.values()
                   if m.status == "pending" and m.next_at <= now]
        return Backlog(counts, len(due), min(due) if due else None)

    def journal(self, profile_id: str | None = None, scenario: str | None = None,
                limit: int = 100, heads: Sequence[int] = ()) -> list[JournalEntry]:
        with self._lock:
            found = [j for j in self._journal.values()
                     if (profile_id is None or j.profile_id == profile_id)
                     and (scenario is None or j.scenario == scenario)]
        found.sort(key=lambda j: (-j.ts, j.id))
        return found[:limit]

    def journal_counts(self, scenario: str) -> list[JournalCount]:
        groups: dict[tuple[str, str], tuple[int, float, set[str]]] = {}
        with self._lock:
            for j in self._journal.values():
                if j.scenario == scenario:
                    rows, total, who = groups.get((j.arm, j.kind), (0, 0.0, set()))
                    who.add(j.profile_id)
                    groups[(j.arm, j.kind)] = (rows + 1, total + j.value, who)
        return [JournalCount(arm, kind, rows, total, len(who))
                for (arm, kind), (rows, total, who) in groups.items()]

    def _apply_account(self, update: AccountUpdate) -> None:
        account_id, traits, ts, member = update
        old = self._accounts.get(account_id)
        if old is None:
            self._accounts[account_id] = Account(account_id, dict(traits), ts, ts,
                                                 [AccountMember(member, ts)])
            return
        members = old.members if any(m.key == member for m in old.members) else [
            *old.members, AccountMember(member, ts)]
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
                          if any(m.key in wanted for m in a.members))

    def account_ids(self, limit: int = 100, offset: int = 0) -> list[str]:
        with self._lock:
            return sorted(self._accounts)[offset : offset + limit]

    # -- privacy
    def subject_keys(self, record_ids: Sequence[str]) -> list[str]:
        wanted = set(record_ids)
        return sorted(k for k, pid in self._identities.items() if pid in wanted)

    def erase(self, subject: Subject, suppress: Sequence[Suppression],
              request: PrivacyRequest) -> Erasure:
        ids, keys = set(subject.record_ids), set(subject.keys)
        with self._lock:
            aside = self._set_aside
            gone = {r[0] for r in self._events if r[1] in ids or (
                r[1] == "" and r[0] in aside and mentions(r[4], subject.values))}
            gone.update(seq for seq in subject.loose if seq in aside)
            kept = [r for r in self._events if r[0] not in gone]
            self._events, self._seqs = kept, [r[0] for r in kept]
            for seq in gone:
                aside.pop(seq, None)
            records = sum(self._profiles.pop(pid, None) is not None for pid in ids)
            identities = [k for k, pid in self._identities.items() if pid in ids or k in keys]
            for key in identities:
                del self._identities[key]
            merges = [m for m in self._merges if m.into_id in ids or m.from_id in ids]
            self._merges = [m for m in self._merges if m not in merges]
            segment_rows = sum(c.profile_id in ids for c in self._changes)
            self._changes = [c for c in self._changes if c.profile_id not in ids]
            for members in self._members.values():
                for pid in ids & members.keys():
                    del members[pid]
            for pid in ids:
                self._timers.pop(pid, None)
            messages = [m for m, msg in self._outbox.items() if msg.row.profile_id in ids]
            for mid in messages:
                del self._outbox[mid]
            journal = [k for k in self._journal if k[0] in ids]
            for jk in journal:
                del self._journal[jk]
            for aid, account in list(self._accounts.items()):
                if any(m.key in keys for m in account.members):
                    self._accounts[aid] = msgspec.structs.replace(
                        account, members=[m for m in account.members if m.key not in keys])
            self._suppress(suppress)
            self._journal_request(request)
        return Erasure(records, len(identities), len(gone), len(messages), len(journal),
                       segment_rows, len(merges))

    def _suppress(self, suppress: Sequence[Suppression]) -> None:
        for s in suppress:
            self._suppressed.setdefault(s.digest, s)

    def _journal_request(self, request: PrivacyRequest) -> None:
        if all(r.id != request.id for r in self._privacy):
            self._privacy.append(request)

    def log_request(self, request: PrivacyRequest) -> None:
        with self._lock:
            self._journal_request(request)

    def suppress(self, suppress: Sequence[Suppression], request: PrivacyRequest) -> None:
        with self._lock:
            self._suppress(suppress)
            self._journal_request(request)

    def unsuppress(self, digests: Sequence[str], request: PrivacyRequest) -> int:
        with self._lock:
            lifted = sum(self._suppressed.pop(d, None) is not None for d in set(digests))
            self._journal_request(request)
        return lifted

    def suppressions(self) -> list[Suppression]:
        with self._lock:
            return sorted(self._suppressed.values())

    def privacy_log(self, limit: int = 100) -> list[PrivacyRequest]:
        with self._lock:
            return sorted(self._privacy[::-1], key=lambda r: -r.at)[:limit]

    def rewrite_payloads(self, rows: Sequence[tuple[int, bytes]]) -> None:
        with self._lock:
            new = dict(rows)
            self._events = [(r[0], r[1], r[2], r[3], new[r[0]], r[5]) if r[0] in new else r
                            for r in self._events]

    def rewrite_messages(self, rows: Sequence[tuple[str, bytes, str]]) -> None:
        with self._lock:
            for mid, body, error in rows:
                m = self._outbox.get(mid)
                if m is not None:
                    m.row, m.error = m.row._replace(body=body), error

    def rename_identities(self, pairs: Sequence[tuple[str, str]]) -> None:
        with self._lock:
            names = dict(pairs)
            for old, new in pairs:
                if old in self._identities:
                    self._identities[new] = self._identities.pop(old)
            for aid, account in list(self._accounts.items()):
                if any(m.key in names for m in account.members):
                    self._accounts[aid] = msgspec.structs.replace(account, members=[
                        m._replace(key=names.get(m.key, m.key)) for m in account.members])

    def drop_events(self, received_before: float, up_to_seq: int) -> int:
        with self._lock:
            gone = {r[0] for r in self._events if r[3] < received_before and r[0] <= up_to_seq}
            self._events = [r for r in self._events if r[0] not in gone]
            self._seqs = [r[0] for r in self._events]
            for seq in gone:
                self._set_aside.pop(seq, None)
        return len(gone)

    def close(self) -> None:
        pass


def _save(into: dict[str, bytes], name: str, body: bytes | None) -> None:
    if body is None:
        into.pop(name, None)
    else:
        into[name] = body
