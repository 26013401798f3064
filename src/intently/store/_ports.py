"""The ports: what the runtime needs from where state lives, one small protocol per job.

- `EventLog`: the append-only log of accepted events, written in group commits through a
  `LogTransaction` (dedupe, append, and what must be durable with the events: set-aside
  events, account updates, the outbox's messages), and read from a position.
- `StateStore`: the golden records, identities, merges and timers, written at checkpoints.
- `Outbox`: the messages the log's transactions put there, claimed for delivery under a lease
  (several dispatchers never send one message twice while the lease holds).
- `Catalog`: definitions (segments, scenarios, models) and small settings (meta).
- `ReadModels`: what the surfaces show: timelines, segment members and movements, the journal,
  the outbox's messages, accounts.
- `PrivacyStore`: erasure of everything held on a person, the suppression list, and the
  privacy journal (each verb one transaction with its journal row).

The embedded backends implement all six in one object (`Store`), so a transaction spans them;
every backend passes the contract suites in `tests/contract/`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from typing import Protocol, runtime_checkable

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
)


class LogTransaction(Protocol):
    """One group commit: nothing written through it is kept unless `commit` returns, and only
    then may its events be acknowledged. Use it as a context manager (commit on success,
    rollback on an exception) or call `commit`/`rollback` once.

    A backend may hold what it is given until `commit` (SQLite does, to keep its write lock
    for the commit's last milliseconds only): callers do not change what they passed. Claims
    are answered when asked and hold when the transaction commits."""

    def next_seq(self) -> int:
        """The log position the next appended event takes: the log assigns positions (one
        writer at a time holds the transaction, so they never collide)."""

    def claim(self, message_ids: Sequence[str], first_seq: int) -> set[int]:
        """Reserve message ids for seqs `first_seq + i`; return the indexes that are duplicates
        (seen before, or earlier in the same call)."""

    def claim_orders(self, orders: Sequence[tuple[str, int]]) -> set[int]:
        """Claim each (order id, seq) of purchases; returns the seqs whose order id another
        event already claimed (the same order sent twice counts once)."""

    def append(self, rows: Sequence[LogRow]) -> None:
        """Add rows to the log in seq order, the first at `next_seq()` or later (the
        positions of duplicates stay unused); a position taken already raises StoreError."""

    def set_aside(self, seq: int, error: str, at: float) -> None:
        """Event `seq` was logged but not applied (`error` says why); replays skip it. An
        event set aside again keeps the later error."""

    def put_accounts(self, updates: Sequence[AccountUpdate]) -> None:
        """Merge each update's traits into its account (later calls win key by key), widen its
        first/last seen and add the member."""

    def put_effects(self, messages: Sequence[OutboxRow], journal: Sequence[JournalEntry],
                    chain: JournalChain | None = None) -> dict[str, int]:
        """Add messages to the outbox (status pending) and rows to the journal, ignoring
        messages whose id is already kept and journal rows whose id the same record already
        has (a replay produces the same ids; journal ids are unique per record).

        `chain.rows` are rows that nothing but a replay produces twice. A backend that finds
        a record's rows by walking back from its newest (SQLite: no index of random keys to
        write per row) numbers them, links each to its record's row before (`chain.heads`),
        recognises a replay's (`chain.replayed_after`), and returns each record's newest row,
        for the record to keep (`Profile.journal_head`); the others keep them as `journal`'s
        and return {}."""

    def put_state(
        self,
        seq: int,
        profiles: dict[str, bytes | None],
        identities: dict[str, str],
        merges: Sequence[Merge],
        changes: Sequence[SegmentChange] = (),
        timers: dict[str, float | None] | None = None,
    ) -> None:
        """`StateStore.checkpoint` within this transaction: some records written with the
        events that changed them last (an incremental checkpoint), kept only if it commits.
        `seq` is the position from which a recovery replays."""

    def commit(self) -> None: ...

    def commit_later(self, *, hand_over: bool = True) -> Future[None]:
        """`commit`, except that the commit may finish in the background (SQLite's `COMMIT`
        runs on a thread of its own while the engine runs the next batch): the events are
        durable, and may be acknowledged, once the future is done; it fails when nothing was
        kept. Until then the store answers the caller's thread as if it were committed (its
        claims, positions, records and identities), and the next commit or `Store.settle`
        waits for it, raising its failure. A backend may simply commit here.

        `hand_over`: whether the background may write the batch too, not only finish it
        (SQLite's commit thread, where Python's switch interval allows: `_sqlite_landing`).
        That keeps the caller's thread busiest, for a backlog such as a file; False writes
        it on the caller's thread, which answers clients waiting on each commit sooner."""

    def rollback(self) -> None: ...

    def __enter__(self) -> LogTransaction: ...

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None: ...


class EventLog(Protocol):
    url: str

    def transaction(self) -> LogTransaction:
        """Open the one write transaction (a second waits until the first ends)."""

    def settle(self) -> None:
        """Wait until the last `commit_later` is durable. The thread that made it gets
        StoreError if it failed (nothing of it was kept); another thread only waits. Nothing
        to do when none is under way."""

    def last_seq(self) -> int:
        """The position of the last event appended (0: none)."""

    def read_log(self, after: int, batch: int = 5000) -> Iterator[list[StoredEvent]]:
        """Every event after `after`, in order, in batches."""

    def events_since(self, ts: float, batch: int = 5000, until: int | None = None,
                     received_from: float | None = None) -> Iterator[list[RecordEvent]]:
        """Every event from event time `ts` on, in log order, a page at a time: each page reads
        at most `batch` positions of the log, from the first event after the page before, so
        a long stretch of the log the window leaves out gives pages with few events or none
        (empty lists), each as quick to read as a full one: a caller that lets events through
        between pages (a walk) is never held by it. With `until`, only positions up to it
        (what was logged before a walk that lets events through began). With
        `received_from`, the log is read from its last mark received before then
        (`_marks`): the events before it, all received earlier, are not read at all. An
        event's time is at most its receive time plus the future tolerance, so a caller asking
        from time `ts` passes `ts` less that tolerance. For occasional jobs such as a new
        segment's backfill."""

    def count_events(self) -> int: ...

    def set_aside_seqs(self, after: int = 0) -> set[int]:
        """The set-aside events' positions after `after`."""

    def set_aside_events(self, limit: int = 100) -> list[SetAside]:
        """The newest set-aside events first, with their errors."""


class StateStore(Protocol):
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

    def load_profile(self, profile_id: str) -> bytes | None: ...

    def load_profiles(self, profile_ids: Sequence[str]) -> dict[str, bytes]:
        """Many records in one read (a batch's cache misses): those the store has, by id."""

    def snapshot_profile(self, profile_id: str) -> bytes | None:
        """`load_profile` for a thread other than the writer's (a decision at the till),
        never waiting for the writer's transaction: the record as of the last commit (a
        commit under way may or may not be seen)."""

    def snapshot_identity(self, key: str) -> str | None:
        """`resolve` the same way: for another thread, never waiting for the writer."""

    def resolve(self, key: str) -> str | None:
        """The record id an identity key (`u:42`, `a:abc`, `e:ann@x.com`) belongs to."""

    def resolve_many(self, keys: Sequence[str]) -> dict[str, str]:
        """`resolve` for many keys in one read: the known ones, with their record ids."""

    def resolve_any(self) -> str | None:
        """Any one identity key, or None when the store knows none (a new store)."""

    def merges(self, profile_id: str) -> list[Merge]:
        """Merges into this record, oldest first."""

    def load_timers(self) -> dict[str, float]:
        """Each record's next timer."""

    def profile_ids(self, limit: int = 100, offset: int = 0, after: str | None = None
                    ) -> list[str]:
        """Record ids in order, `limit` of them: from the `offset`-th, or the first after the
        id `after` (the next page of a walk through every record: an offset costs a step
        for each record it skips, so walking a large store by offsets takes time that grows
        with the square of its size)."""

    def count_profiles(self) -> int: ...


class Outbox(Protocol):
    def claim_due(self, now: float, owner: str, lease_s: float = 60.0, limit: int = 100
                  ) -> list[OutboxItem]:
        """Take up to `limit` messages due by `now`, oldest first, for `owner` until
        `now + lease_s`: pending ones, ones whose lease ran out (a crash left them `sending`),
        and ones `owner` holds already (a dispatcher restarted under the same name takes back
        what it was sending). No other owner gets them while the lease holds."""

    def mark(self, message_id: str, status: str, attempts: int, next_at: float, error: str,
             now: float) -> None:
        """Record an attempt's outcome (its own small transaction); ends the lease."""


class Catalog(Protocol):
    def save_segment(self, name: str, body: bytes | None) -> None:
        """Keep a segment definition (None deletes it)."""

    def load_segments(self) -> dict[str, bytes]: ...

    def save_scenario(self, name: str, body: bytes | None) -> None: ...

    def load_scenarios(self) -> dict[str, bytes]: ...

    def save_model(self, name: str, version: str, body: bytes) -> None:
        """Keep a new version of a model; the newest is the one in use."""

    def load_model(self, name: str) -> bytes | None:
        """The newest version of a model."""

    def model_versions(self, name: str) -> list[str]:
        """Every version kept, oldest first."""

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


class ReadModels(Protocol):
    def timeline(self, record_ids: Sequence[str], limit: int = 100,
                 heads: Sequence[int] = ()) -> list[StoredEvent]:
        """The newest `limit` events of these record ids, newest first. `heads`: the latest
        seq of each record that the caller knows of (a store may walk the log back from them;
        it finds the heads of records merged at a checkpoint itself)."""

    def segment_members(self, segment: str, limit: int = 1000, offset: int = 0
                        ) -> list[Member]:
        """Members as of the last checkpoint, by profile id."""

    def segment_sizes(self) -> dict[str, int]: ...

    def segment_changes(self, segment: str, since: float = 0.0) -> list[Movement]:
        """Entries and exits, oldest first: sizes over time come from these."""

    def outbox(self, limit: int = 100, scenario: str | None = None,
               profile_id: str | None = None) -> list[OutboxItem]:
        """Messages, newest first."""

    def outbox_counts(self, scenario: str) -> dict[tuple[str, str], int]:
        """(arm, status) -> messages."""

    def outbox_backlog(self, now: float) -> Backlog:
        """Messages by status, and the pending ones due by `now`."""

    def journal(self, profile_id: str | None = None, scenario: str | None = None,
                limit: int = 100, heads: Sequence[int] = ()) -> list[JournalEntry]:
        """Journal rows, newest first. `heads`: the record's newest rows, where the backend
        chains them (`put_effects`): one record's rows are found from them quickly (and
        without them, by a scan of the journal)."""

    def journal_counts(self, scenario: str) -> list[JournalCount]: ...

    def account(self, account_id: str) -> Account | None: ...

    def accounts_of(self, keys: Sequence[str]) -> list[str]:
        """The ids of the accounts any of these identity keys joined, sorted."""

    def account_ids(self, limit: int = 100, offset: int = 0) -> list[str]: ...


class PrivacyStore(Protocol):
    def subject_keys(self, record_ids: Sequence[str]) -> list[str]:
        """Every identity key that resolves to one of these records, sorted."""

    def erase(self, subject: Subject, suppress: Sequence[Suppression],
              request: PrivacyRequest) -> Erasure:
        """In one transaction: delete the subject's records, identities, merges (both ways),
        segment entries and memberships, timers, events (theirs, and set-aside ones that
        mention their values), outbox messages, journal rows and account memberships; add the
        suppressions and the request to the privacy journal. Then make the deleted bytes
        unreadable where the backend can (SQLite: zeroed pages and an emptied WAL).
        Deduplication keys (message and order ids) stay: they name no one."""

    def suppress(self, suppress: Sequence[Suppression], request: PrivacyRequest) -> None:
        """Add suppressions (one already kept keeps its first date) and journal the request
        (with no suppressions: only journal it, as for an export). A request id journaled
        already is not journaled again (a cluster may apply a request twice)."""

    def unsuppress(self, digests: Sequence[str], request: PrivacyRequest) -> int:
        """Lift suppressions; returns how many were kept."""

    def suppressions(self) -> list[Suppression]: ...

    def log_request(self, request: PrivacyRequest) -> None:
        """Add a row to the privacy journal on its own: an admin change (who, what, when, before and
        after in `detail`), or a privacy request that changes nothing else (an export)."""

    def privacy_log(self, limit: int = 100) -> list[PrivacyRequest]:
        """The privacy journal, newest first."""

    def rewrite_payloads(self, rows: Sequence[tuple[int, bytes]]) -> None:
        """Replace the payloads of these logged events (retention drops raw fields); freed
        bytes are made unreadable where the backend can."""

    def rewrite_messages(self, rows: Sequence[tuple[str, bytes, str]]) -> None:
        """Replace the bodies and errors of these outbox messages, by id (a key rotation
        seals them again); their delivery state stays."""

    def rename_identities(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Keep each identity key (old, new) under its new name, for the same record and in
        the same accounts (a store that starts sealing keeps emails as digests)."""

    def drop_events(self, received_before: float, up_to_seq: int) -> int:
        """Delete the events received before `received_before`, at or below `up_to_seq` (a
        recovery never needs them: the caller passes the checkpoint's position), with their
        set-aside entries; returns how many. A backend may read the log only up to its first
        mark received at `received_before` or later (`_marks`), so that an hourly job does
        not read all of it: what a clock set back filed after such a mark then waits until
        the mark itself is old enough."""


@runtime_checkable
class Store(EventLog, StateStore, Outbox, Catalog, ReadModels, PrivacyStore, Protocol):
    """A backend that is all six ports at once (the embedded ones): one writer at a time;
    reads may come from anywhere the backend allows."""

    def close(self) -> None: ...
