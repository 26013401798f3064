"""A store that keeps personal data sealed at rest: any backend, wrapped.

`SealedStore` is every port of the store it wraps, and seals on the way in and opens on the
way out what names or describes a person:
- records (every trait, identity and aggregate: the whole record is one sealed value);
- logged events' payloads (traits, `context.ip`, the user agent: the whole event);
- outbox messages (address, rendered content) and their delivery errors, and the errors of
  events set aside (an error may quote a value);
- identity keys of emails and phones, kept as keyed digests (`e#…`): a look-up by email
  still finds its record, but the table no longer says whose it is.

What stays readable: record ids and user and anonymous ids (the client's own pseudonyms),
times, positions, segment and scenario names, counts, accounts' own traits (companies,
households). The backend sees only sealed bytes, so the contract suites run unchanged over
it. Keys and their rotation: `_keyring`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from typing import Any

from ._keyring import META, Envelope, Keyring, SealingError, master_key
from ._ports import LogTransaction, Store
from ._rows import (
    Account,
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

RECORD, EVENT, MESSAGE, ERROR = b"record", b"event", b"message", b"error"


class _Sealing:
    """What the store and its transactions share: seal and open by kind of value."""

    def __init__(self, ring: Keyring) -> None:
        self.ring = ring

    def records(self, profiles: dict[str, bytes | None]) -> dict[str, bytes | None]:
        seal = self.ring.seal
        return {pid: None if body is None else seal(body, RECORD)
                for pid, body in profiles.items()}

    def identities(self, identities: dict[str, str]) -> dict[str, str]:
        key = self.ring.key
        return {key(k): pid for k, pid in identities.items()}

    def item(self, m: OutboxItem) -> OutboxItem:
        return m._replace(body=self.ring.open(m.body, MESSAGE),
                          error=self.ring.open_text(m.error, ERROR))

    def event(self, e: StoredEvent) -> StoredEvent:
        return e._replace(payload=self.ring.open(e.payload, EVENT))


class SealedTransaction(EndsOnExit):
    def __init__(self, inner: LogTransaction, sealing: _Sealing) -> None:
        self._inner = inner
        self._s = sealing

    def next_seq(self) -> int:
        return self._inner.next_seq()

    def claim(self, message_ids: Sequence[str], first_seq: int) -> set[int]:
        return self._inner.claim(message_ids, first_seq)

    def claim_orders(self, orders: Sequence[tuple[str, int]]) -> set[int]:
        return self._inner.claim_orders(orders)

    def append(self, rows: Sequence[LogRow]) -> None:
        seal = self._s.ring.seal
        self._inner.append([(r[0], r[1], r[2], r[3], seal(r[4], EVENT), r[5]) for r in rows])

    def set_aside(self, seq: int, error: str, at: float) -> None:
        self._inner.set_aside(seq, self._s.ring.seal_text(error, ERROR), at)

    def put_accounts(self, updates: Sequence[AccountUpdate]) -> None:
        key = self._s.ring.key
        self._inner.put_accounts([AccountUpdate(u[0], u[1], u[2], key(u[3])) for u in updates])

    def put_effects(self, messages: Sequence[OutboxRow], journal: Sequence[JournalEntry],
                    chain: JournalChain | None = None) -> dict[str, int]:
        seal = self._s.ring.seal
        return self._inner.put_effects([OutboxRow(*m)._replace(body=seal(m[6], MESSAGE))
                                        for m in messages], journal, chain)

    def put_state(self, seq: int, profiles: dict[str, bytes | None],
                  identities: dict[str, str], merges: Sequence[Merge],
                  changes: Sequence[SegmentChange] = (),
                  timers: dict[str, float | None] | None = None) -> None:
        self._inner.put_state(seq, self._s.records(profiles), self._s.identities(identities),
                              merges, changes, timers)

    def commit(self) -> None:
        self._inner.commit()

    def commit_later(self, *, hand_over: bool = True) -> Future[None]:
        return self._inner.commit_later(hand_over=hand_over)

    def rollback(self) -> None:
        self._inner.rollback()


class SealedStore:
    """`inner` with personal data sealed by `ring`. Attributes of the backend's own (a
    SQLite store's `vacuum`, a PostgreSQL store's `schema`) are reached through it."""

    def __init__(self, inner: Store, ring: Keyring) -> None:
        self.inner = inner
        self.url = inner.url
        self._s = _Sealing(ring)
        self.ring = ring

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    # -- the event log
    def transaction(self) -> SealedTransaction:
        return SealedTransaction(self.inner.transaction(), self._s)

    def settle(self) -> None:
        self.inner.settle()

    def last_seq(self) -> int:
        return self.inner.last_seq()

    def read_log(self, after: int, batch: int = 5000) -> Iterator[list[StoredEvent]]:
        event = self._s.event
        for rows in self.inner.read_log(after, batch):
            yield [event(e) for e in rows]

    def events_since(self, ts: float, batch: int = 5000, until: int | None = None,
                     received_from: float | None = None) -> Iterator[list[RecordEvent]]:
        open_ = self.ring.open
        for rows in self.inner.events_since(ts, batch, until, received_from):
            yield [e._replace(payload=open_(e.payload, EVENT)) for e in rows]

    def count_events(self) -> int:
        return self.inner.count_events()

    def set_aside_seqs(self, after: int = 0) -> set[int]:
        return self.inner.set_aside_seqs(after)

    def set_aside_events(self, limit: int = 100) -> list[SetAside]:
        """With their errors opened too (an error may quote the event's values)."""
        open_, open_text = self.ring.open, self.ring.open_text
        return [e._replace(payload=open_(e.payload, EVENT), error=open_text(e.error, ERROR))
                for e in self.inner.set_aside_events(limit)]

    # -- records, identities, merges, timers
    def checkpoint(self, seq: int, profiles: dict[str, bytes | None],
                   identities: dict[str, str], merges: Sequence[Merge],
                   changes: Sequence[SegmentChange] = (),
                   timers: dict[str, float | None] | None = None) -> None:
        self.inner.checkpoint(seq, self._s.records(profiles), self._s.identities(identities),
                              merges, changes, timers)

    def checkpoint_seq(self) -> int:
        return self.inner.checkpoint_seq()

    def load_profile(self, profile_id: str) -> bytes | None:
        body = self.inner.load_profile(profile_id)
        return None if body is None else self.ring.open(body, RECORD)

    def load_profiles(self, profile_ids: Sequence[str]) -> dict[str, bytes]:
        open_ = self.ring.open
        return {pid: open_(body, RECORD)
                for pid, body in self.inner.load_profiles(profile_ids).items()}

    def resolve(self, key: str) -> str | None:
        return self.inner.resolve(self.ring.key(key))

    def snapshot_profile(self, profile_id: str) -> bytes | None:
        body = self.inner.snapshot_profile(profile_id)
        return None if body is None else self.ring.open(body, RECORD)

    def snapshot_identity(self, key: str) -> str | None:
        return self.inner.snapshot_identity(self.ring.key(key))

    def resolve_many(self, keys: Sequence[str]) -> dict[str, str]:
        stored = {self.ring.key(k): k for k in keys}
        return {stored[k]: pid for k, pid in self.inner.resolve_many(list(stored)).items()}

    def resolve_any(self) -> str | None:
        return self.inner.resolve_any()

    def merges(self, profile_id: str) -> list[Merge]:
        return self.inner.merges(profile_id)

    def load_timers(self) -> dict[str, float]:
        return self.inner.load_timers()

    def profile_ids(self, limit: int = 100, offset: int = 0, after: str | None = None
                    ) -> list[str]:
        return self.inner.profile_ids(limit, offset, after)

    def count_profiles(self) -> int:
        return self.inner.count_profiles()

    # -- the outbox
    def claim_due(self, now: float, owner: str, lease_s: float = 60.0, limit: int = 100
                  ) -> list[OutboxItem]:
        return [self._s.item(m) for m in self.inner.claim_due(now, owner, lease_s, limit)]

    def mark(self, message_id: str, status: str, attempts: int, next_at: float, error: str,
             now: float) -> None:
        self.inner.mark(message_id, status, attempts, next_at,
                        self.ring.seal_text(error, ERROR), now)

    # -- the catalog (definitions and models name no one)
    def save_segment(self, name: str, body: bytes | None) -> None:
        self.inner.save_segment(name, body)

    def load_segments(self) -> dict[str, bytes]:
        return self.inner.load_segments()

    def save_scenario(self, name: str, body: bytes | None) -> None:
        self.inner.save_scenario(name, body)

    def load_scenarios(self) -> dict[str, bytes]:
        return self.inner.load_scenarios()

    def save_model(self, name: str, version: str, body: bytes) -> None:
        self.inner.save_model(name, version, body)

    def load_model(self, name: str) -> bytes | None:
        return self.inner.load_model(name)

    def model_versions(self, name: str) -> list[str]:
        return self.inner.model_versions(name)

    def get_meta(self, key: str) -> str | None:
        return self.inner.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self.inner.set_meta(key, value)

    # -- read models
    def timeline(self, record_ids: Sequence[str], limit: int = 100,
                 heads: Sequence[int] = ()) -> list[StoredEvent]:
        return [self._s.event(e) for e in self.inner.timeline(record_ids, limit, heads)]

    def segment_members(self, segment: str, limit: int = 1000, offset: int = 0
                        ) -> list[Member]:
        return self.inner.segment_members(segment, limit, offset)

    def segment_sizes(self) -> dict[str, int]:
        return self.inner.segment_sizes()

    def segment_changes(self, segment: str, since: float = 0.0) -> list[Movement]:
        return self.inner.segment_changes(segment, since)

    def outbox(self, limit: int = 100, scenario: str | None = None,
               profile_id: str | None = None) -> list[OutboxItem]:
        return [self._s.item(m) for m in self.inner.outbox(limit, scenario, profile_id)]

    def outbox_counts(self, scenario: str) -> dict[tuple[str, str], int]:
        return self.inner.outbox_counts(scenario)

    def outbox_backlog(self, now: float) -> Backlog:
        return self.inner.outbox_backlog(now)

    def journal(self, profile_id: str | None = None, scenario: str | None = None,
                limit: int = 100, heads: Sequence[int] = ()) -> list[JournalEntry]:
        return self.inner.journal(profile_id, scenario, limit, heads)

    def journal_counts(self, scenario: str) -> list[JournalCount]:
        return self.inner.journal_counts(scenario)

    def account(self, account_id: str) -> Account | None:
        return self.inner.account(account_id)

    def accounts_of(self, keys: Sequence[str]) -> list[str]:
        return self.inner.accounts_of([self.ring.key(k) for k in keys])

    def account_ids(self, limit: int = 100, offset: int = 0) -> list[str]:
        return self.inner.account_ids(limit, offset)

    # -- privacy
    def subject_keys(self, record_ids: Sequence[str]) -> list[str]:
        """As kept: emails and phones as their digests (the record holds them readable)."""
        return self.inner.subject_keys(record_ids)

    def erase(self, subject: Subject, suppress: Sequence[Suppression],
              request: PrivacyRequest) -> Erasure:
        # the backend cannot read sealed payloads: find the set-aside events that mention the
        # person here
        loose = [e.seq for e in self.set_aside_events(limit=1 << 40)
                 if mentions(e.payload, subject.values)]
        keys = tuple(sorted({self.ring.key(k) for k in subject.keys}))
        return self.inner.erase(subject._replace(keys=keys, loose=(*subject.loose, *loose)),
                                suppress, request)

    def suppress(self, suppress: Sequence[Suppression], request: PrivacyRequest) -> None:
        self.inner.suppress(suppress, request)

    def unsuppress(self, digests: Sequence[str], request: PrivacyRequest) -> int:
        return self.inner.unsuppress(digests, request)

    def suppressions(self) -> list[Suppression]:
        return self.inner.suppressions()

    def log_request(self, request: PrivacyRequest) -> None:
        self.inner.log_request(request)

    def privacy_log(self, limit: int = 100) -> list[PrivacyRequest]:
        return self.inner.privacy_log(limit)

    def rewrite_payloads(self, rows: Sequence[tuple[int, bytes]]) -> None:
        seal = self.ring.seal
        self.inner.rewrite_payloads([(seq, seal(p, EVENT)) for seq, p in rows])

    def rewrite_messages(self, rows: Sequence[tuple[str, bytes, str]]) -> None:
        seal, seal_text = self.ring.seal, self.ring.seal_text
        self.inner.rewrite_messages([(mid, seal(body, MESSAGE), seal_text(error, ERROR))
                                     for mid, body, error in rows])

    def rename_identities(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.inner.rename_identities(pairs)

    def drop_events(self, received_before: float, up_to_seq: int) -> int:
        return self.inner.drop_events(received_before, up_to_seq)

    def close(self) -> None:
        self.inner.close()


def keyring(envelope: str | None, keys: Sequence[str]) -> Keyring | None:
    """The keyring of a store whose meta holds `envelope` under `META` (None: the store does
    not seal), opened with one of the master `keys`: for readers that reach a backend's
    tables without a `SealedStore`, such as a cluster's dispatchers."""
    if envelope is None:
        return None
    loaded = Envelope.load(envelope)
    return loaded.keyring(loaded.find_master([master_key(k) for k in keys]))


def opened(ring: Keyring | None, item: OutboxItem) -> OutboxItem:
    """An outbox message as sent: its body and error opened (as it is without a ring)."""
    return item if ring is None else _Sealing(ring).item(item)


def sealed_error(ring: Keyring | None, error: str) -> str:
    """A delivery error as the outbox keeps it."""
    return error if ring is None else ring.seal_text(error, ERROR)


def sealed(store: Store, keys: Sequence[str], *, create: bool = True) -> SealedStore:
    """`store`, sealing with the data keys in its envelope, which one of the master `keys`
    opens. With no envelope yet, `create` makes one wrapped by the first key."""
    masters = [master_key(k) for k in keys]
    if not masters:
        raise SealingError("encryption_keys: none given")
    text = store.get_meta(META)
    if text is None:
        if not create:
            raise SealingError("this store does not seal personal data")
        envelope = Envelope.new(masters[0])
        store.set_meta(META, envelope.dump())
    else:
        envelope = Envelope.load(text)
    return SealedStore(store, envelope.keyring(envelope.find_master(masters)))
