"""The store port: an append-only event log plus checkpointed state.

The engine writes events in group commits (`begin` / `claim` / `append` / `commit`) and writes
its in-memory state at checkpoints; after a crash it loads the last checkpoint and replays the
log after it (`read_log`). Every backend passes `tests/test_store_contract.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import msgspec

from ..profiles import Merge

LogRow = tuple[int, str, float, float, bytes, int]
"""(seq, customer_id, event time, received at, JSON payload, prev): `prev` is the seq of the
same record's previous event (0: none), so the log doubles as each record's timeline. Message
ids go through `claim`.

The payload may be the event exactly as the client sent it: event time and receive time are
authoritative in their own columns."""

SegmentChange = tuple[str, str, bool, float]
"""(profile id, segment, entered (else left), when)"""

OutboxRow = tuple[str, str, str, str, str, float, bytes]
"""(message id, scenario, profile id, arm, channel, due, the message as JSON)"""

OutboxItem = tuple[str, str, str, str, str, float, str, int, str, float, bytes]
"""(id, scenario, profile id, arm, channel, due, status, attempts, last error, updated, JSON);
status is pending, sending, delivered, failed (gave up), expired (too late to send) or logged
(no channel configured: written to the log instead)"""

JournalEntry = tuple[str, str, str, str, str, float, float, str]
"""(id, scenario, profile id, arm, kind, when, value, ref): see `intently.scenarios.JournalRow`"""

StoredEvent = tuple[int, float, float, bytes]
"""(seq, event time, received at, JSON payload), as the log gives events back"""

SetAside = tuple[int, float, float, bytes, str, float]
"""(seq, event time, received at, JSON payload, error, when set aside): an accepted event the
pipeline failed on (a dead letter)"""

AccountUpdate = tuple[str, dict[str, Any], float, str]
"""(account id, traits, event time, member's identity key): one `group` call"""


class Account(msgspec.Struct, frozen=True):
    """A company or household that people belong to (Segment's `group`): its own traits, kept
    apart from the people's, and its members by the identity key they joined with (`u:42`,
    `a:3f9c`), which the reader resolves to today's record (records merge)."""

    id: str
    traits: dict[str, Any]
    first_seen: float
    last_seen: float
    members: list[tuple[str, float]]
    """(identity key, joined at), oldest first"""


@runtime_checkable
class Store(Protocol):
    """What the engine needs from a backend. One writer at a time; reads may come from anywhere
    the backend allows."""

    url: str

    # -- the event log (group commit)
    def begin(self) -> None:
        """Open a write transaction."""

    def claim(self, message_ids: Sequence[str], first_seq: int) -> set[int]:
        """Reserve message ids for seqs `first_seq + i`; return the indexes that are duplicates
        (seen before, or earlier in the same call). Inside `begin`/`commit`."""

    def claim_orders(self, orders: Sequence[tuple[str, int]]) -> set[int]:
        """Inside a transaction: claim each (order id, seq) of purchases; returns the seqs whose
        order id another event already claimed (the same order sent twice counts once)."""

    def append(self, rows: Sequence[LogRow]) -> None:
        """Add rows to the log. Inside `begin`/`commit`."""

    def commit(self) -> None:
        """Make the transaction durable; only then may its events be acknowledged."""

    def rollback(self) -> None: ...

    def last_seq(self) -> int: ...

    def read_log(self, after: int, batch: int = 5000) -> Iterator[list[StoredEvent]]:
        """Every event after `after`, in order, in batches."""

    def events_since(self, ts: float, batch: int = 5000) -> Iterator[list[tuple[str, bytes]]]:
        """(record id at the time, payload) of every event from `ts` on (event time), in log
        order, in batches. A scan: for occasional jobs such as a new segment's backfill."""

    def timeline(self, customer_ids: Sequence[str], limit: int = 100,
                 heads: Sequence[int] = ()) -> list[StoredEvent]:
        """The newest `limit` events of these record ids, newest first. `heads`: the latest
        seq of each record that the caller knows of (a store may walk the log back from them;
        it finds the heads of records merged at a checkpoint itself)."""

    def count_events(self) -> int: ...

    # -- accounts (group calls), written with the events that carry them
    def put_accounts(self, updates: Sequence[AccountUpdate]) -> None:
        """Inside a transaction: merge each update's traits into its account (later calls win
        key by key), widen its first/last seen and add the member."""

    def account(self, account_id: str) -> Account | None: ...

    def accounts_of(self, keys: Sequence[str]) -> list[str]:
        """The ids of the accounts any of these identity keys joined, sorted."""

    def account_ids(self, limit: int = 100, offset: int = 0) -> list[str]: ...

    # -- events set aside: accepted and logged, but the pipeline failed on them
    def set_aside(self, seq: int, error: str, at: float) -> None:
        """Inside a transaction: log event `seq` was not applied (`error` says why); replays
        skip it."""

    def set_aside_seqs(self, after: int = 0) -> set[int]:
        """The set-aside events' positions after `after`."""

    def set_aside_events(self, limit: int = 100) -> list[SetAside]:
        """The newest set-aside events first, with their errors."""

    # -- the transactional outbox (scenario effects commit with the events that caused them)
    def put_effects(self, messages: Sequence[OutboxRow], journal: Sequence[JournalEntry]) -> None:
        """Add messages (status pending) and journal rows, ignoring ids already kept (a replay
        produces the same ids). Inside `begin`/`commit`."""

    def outbox_due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        """Pending messages whose next attempt is due, oldest first; also messages left in
        `sending` by a crash."""

    def outbox_mark(self, message_id: str, status: str, attempts: int, next_at: float,
                    error: str, now: float) -> None:
        """Record an attempt's outcome (its own small transaction)."""

    def outbox(self, limit: int = 100, scenario: str | None = None,
               profile_id: str | None = None) -> list[OutboxItem]:
        """Messages, newest first."""

    def outbox_counts(self, scenario: str) -> dict[tuple[str, str], int]:
        """(arm, status) -> messages."""

    def journal_counts(self, scenario: str) -> list[tuple[str, str, int, float, int]]:
        """(arm, kind, rows, sum of values, distinct customers)."""

    def journal(self, profile_id: str | None = None, scenario: str | None = None,
                limit: int = 100) -> list[JournalEntry]:
        """Journal rows, newest first."""

    def save_scenario(self, name: str, body: bytes | None) -> None: ...

    def load_scenarios(self) -> dict[str, bytes]: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    # -- checkpointed state
    def checkpoint(
        self,
        seq: int,
        profiles: dict[str, bytes | None],
        identities: dict[str, str],
        merges: Sequence[Merge],
        changes: Sequence[SegmentChange] = (),
        timers: dict[str, float | None] | None = None,
    ) -> None:
        """Atomically write changed records (None deletes), identities, merges, segment
        entries and exits (which also keep the member lists) and the records' next timer
        (None: none), and note that state now reflects every event up to `seq`."""

    def checkpoint_seq(self) -> int: ...

    # -- segments
    def save_segment(self, name: str, body: bytes | None) -> None:
        """Keep a segment definition (None deletes it)."""

    def load_segments(self) -> dict[str, bytes]: ...

    def segment_members(self, segment: str, limit: int = 1000, offset: int = 0
                        ) -> list[tuple[str, float]]:
        """(profile id, member since) as of the last checkpoint, by profile id."""

    def segment_sizes(self) -> dict[str, int]: ...

    def segment_changes(self, segment: str, since: float = 0.0) -> list[tuple[str, bool, float]]:
        """(profile id, entered, when), oldest first: sizes over time come from these."""

    def load_timers(self) -> dict[str, float]:
        """Each record's next segment timer."""

    def load_profile(self, profile_id: str) -> bytes | None: ...

    def resolve(self, key: str) -> str | None:
        """The record id an identity key (`u:42`, `a:abc`, `e:ann@x.com`) belongs to."""

    def resolve_any(self) -> str | None:
        """Any one identity key, or None when the store knows none (a new store)."""

    def merges(self, profile_id: str) -> list[Merge]:
        """Merges into this record, oldest first."""

    def profile_ids(self, limit: int = 100, offset: int = 0) -> list[str]: ...

    # -- models
    def save_model(self, name: str, version: str, body: bytes) -> None:
        """Keep a new version of a model; the newest is the one in use."""

    def load_model(self, name: str) -> bytes | None:
        """The newest version of a model."""

    def model_versions(self, name: str) -> list[str]:
        """Every version kept, oldest first."""

    def count_profiles(self) -> int: ...

    def close(self) -> None: ...
