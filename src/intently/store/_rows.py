"""The rows the ports read and write, typed.

Rows read back are named tuples (`row.payload`, not `row[4]`): a backend hands its driver's
tuples over as they are. `LogRow` alone stays a plain tuple: the pipeline builds one per event,
and a named tuple costs ten times as much to build.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec

LogRow = tuple[int, str, float, float, bytes, int]
"""(seq, record id, event time, received at, JSON payload, prev), in this order: `prev` is the
seq of the same record's previous event (0: none), so the log doubles as each record's
timeline. The payload may be the event exactly as the client sent it: event time and receive
time are authoritative in their own columns."""


class StoredEvent(NamedTuple):
    """An event as the log gives it back."""

    seq: int
    ts: float
    received_at: float
    payload: bytes


class RecordEvent(NamedTuple):
    """An event with the id of the record it was filed under (as it was then), and its log
    times (the payload may hold what the client claimed, before filing)."""

    record_id: str
    payload: bytes
    ts: float
    received_at: float


class SetAside(NamedTuple):
    """An accepted event the pipeline failed on (a dead letter), with its error."""

    seq: int
    ts: float
    received_at: float
    payload: bytes
    error: str
    at: float


class SegmentChange(NamedTuple):
    profile_id: str
    segment: str
    entered: bool
    """else left"""
    ts: float


class Movement(NamedTuple):
    """One entry or exit of one segment."""

    profile_id: str
    entered: bool
    ts: float


class Member(NamedTuple):
    profile_id: str
    since: float


class OutboxRow(NamedTuple):
    """A message the pipeline produced, as it enters the outbox."""

    id: str
    scenario: str
    profile_id: str
    arm: str
    channel: str
    due: float
    body: bytes
    """the message as JSON"""


class OutboxItem(NamedTuple):
    """A message in the outbox, with its delivery state. `status`: pending, sending, delivered,
    failed (gave up), expired (too late to send) or logged (no channel configured: written to
    the log instead)."""

    id: str
    scenario: str
    profile_id: str
    arm: str
    channel: str
    due: float
    status: str
    attempts: int
    error: str
    updated: float
    body: bytes


class Backlog(NamedTuple):
    """The outbox at a glance."""

    by_status: dict[str, int]
    due: int
    """pending messages due by now (waiting for a dispatcher)"""
    oldest_due: float | None
    """when the longest-waiting of them was due"""


class JournalEntry(NamedTuple):
    """What a scenario did for a customer: see `intently.scenarios.JournalRow`."""

    id: str
    scenario: str
    profile_id: str
    arm: str
    kind: str
    ts: float
    value: float
    ref: str


class JournalChain(NamedTuple):
    """Journal rows that nothing but a replay produces twice, and how they join their records'
    chains (`LogTransaction.put_effects`)."""

    rows: Sequence[JournalEntry]
    heads: dict[str, int]
    """each record's newest row before these (0 or absent: none)"""
    position: int
    """the log position the rows come from (the batch's first event, or the next one)"""
    replayed_after: int | None = None
    """set when the rows come from a replay of the log after this position: rows the store
    kept before, from there on, are recognised by id and not written twice"""


class JournalCount(NamedTuple):
    """Journal rows of one arm and kind, summed."""

    arm: str
    kind: str
    rows: int
    total: float
    customers: int


@dataclass(frozen=True, slots=True)
class Merge:
    """One entry of the merge log."""

    into_id: str
    from_id: str
    reason: str
    ts: float
    head: int = 0  # the merged record's latest event: its timeline goes on from there


class AccountUpdate(NamedTuple):
    """One `group` call."""

    account_id: str
    traits: dict[str, Any]
    ts: float
    member: str
    """the member's identity key"""


class AccountMember(NamedTuple):
    key: str
    """the identity key they joined with"""
    since: float


class Account(msgspec.Struct, frozen=True):
    """A company or household that people belong to (Segment's `group`): its own traits, kept
    apart from the people's, and its members by the identity key they joined with (`u:42`,
    `a:3f9c`), which the reader resolves to today's record (records merge)."""

    id: str
    traits: dict[str, Any]
    first_seen: float
    last_seen: float
    members: list[AccountMember]
    """oldest first"""


def final_memberships(changes: Sequence[SegmentChange]
                       ) -> tuple[list[tuple[str, str, float]], list[tuple[str, str]]]:
    """The member lists' upserts and deletes that leave each (segment, record) as its last
    change says (a record may enter, leave and enter again within one checkpoint)."""
    last: dict[tuple[str, str], SegmentChange] = {}
    for change in changes:
        last[(change.segment, change.profile_id)] = change
    upserts = [(s, p, c.ts) for (s, p), c in last.items() if c.entered]
    deletes = [(s, p) for (s, p), c in last.items() if not c.entered]
    return upserts, deletes


class Subject(NamedTuple):
    """Everything held on one person, as an erasure must find it: their record ids (the
    record and every record merged into it), their identity keys, the latest log position of
    each record (its timeline walks back from there), and the raw values that name them
    (identifiers, email, phone), for events filed under no record (set aside on arrival).
    `loose`: positions of such events that the caller found already (a sealed store reads
    their payloads; the backend cannot)."""

    record_ids: tuple[str, ...]
    keys: tuple[str, ...]
    heads: tuple[int, ...]
    values: tuple[str, ...]
    loose: tuple[int, ...] = ()


class Suppression(NamedTuple):
    """An identity key kept from being ingested again, by its keyed digest (the key itself is
    not kept, so an erased person's identifiers are not either)."""

    digest: str
    since: float
    reason: str
    """"erased" (suppressed with the erasure) or "suppressed" (without deleting)"""


class PrivacyRequest(NamedTuple):
    """One privacy action, journaled without the personal data: `subject` is a keyed digest
    of the identifier asked about; `detail` is JSON (what was removed, counted)."""

    id: str
    verb: str
    """erase, suppress, unsuppress or export"""
    subject: str
    at: float
    actor: str
    detail: str


class Erasure(NamedTuple):
    """What an erasure removed, counted."""

    records: int
    identities: int
    events: int
    messages: int
    journal: int
    segment_rows: int
    merges: int


def erase_rows(delete: Callable[[str, str, Sequence[Any]], int], subject: Subject,
               seqs: Sequence[int]) -> Erasure:
    """The deletes of an erasure, the same on every database backend: `delete(table, column,
    values)` removes the rows whose column is one of the values and counts them; `seqs` are
    the subject's events (found the backend's way)."""
    ids, keys = list(subject.record_ids), list(subject.keys)
    events = delete("events", "seq", seqs)
    delete("set_aside", "seq", seqs)
    records = delete("profiles", "id", ids)
    identities = delete("identities", "profile_id", ids) + delete("identities", "key", keys)
    merges = delete("merges", "into_id", ids) + delete("merges", "from_id", ids)
    segment_rows = (delete("segment_changes", "profile_id", ids)
                    + delete("segment_members", "profile_id", ids))
    delete("timers", "profile_id", ids)
    messages = delete("outbox", "profile_id", ids)
    journal = delete("journal", "profile_id", ids)
    delete("account_members", "member", keys)
    return Erasure(records, identities, events, messages, journal, segment_rows, merges)


def mentions(payload: bytes, values: Sequence[str]) -> bool:
    """Whether a stored JSON payload holds any of these values as a JSON string."""
    return any(msgspec.json.encode(v) in payload for v in values if v)
