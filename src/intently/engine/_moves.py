"""Records that move between engines: a cluster keeps each person in one partition, and when
a device whose journey began in one partition signs in as a person who lives in another, the
device's record moves to the person's (`cluster/_worker.py` carries it).

The leaving side reads what moves (`leaving`): the record, every record merged into it, their
identity keys and their events. The arriving side logs the events under the moved record's id
(`adopt_events`), then merges the record into the person's, as an embedded engine merges two
records that an event joins (`adopt_record`). Each step is one write that is also a
checkpoint, so a recovery never replays moved events through the pipeline a second time; each
is idempotent (events by message id, the record by its id)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from ..profiles import Profile, merge_into
from ..store import Merge
from ._engine import Engine
from ._runner import Runner

_log = logging.getLogger("intently.cluster")
_ALL = 1 << 62


class MovedEvent(msgspec.Struct, array_like=True, frozen=True):
    """An event as it moves: what the log keeps of it."""

    message_id: str
    ts: float
    received_at: float
    payload: bytes


class _Named(msgspec.Struct):
    messageId: str | None = None


_named = msgspec.json.Decoder(_Named)


@dataclass(frozen=True)
class Leaving:
    """What moves with the record that holds a key."""

    record: Profile
    record_ids: tuple[str, ...]
    """The record and every record merged into it."""
    keys: tuple[str, ...]
    """Their identity keys (as the store keeps them)."""
    merges: tuple[Merge, ...]
    """The merge log among them."""
    events: tuple[MovedEvent, ...]
    """Their events, oldest first."""
    seqs: tuple[int, ...]
    """The events' log positions here."""


def leaving(runner: Engine, key: str) -> Leaving | None:
    """What moves with the record that holds `key` (None: no record here holds it). Call it
    after a checkpoint, so the store holds everything the engine knows."""
    pid = runner.state.lookup(key)
    profile = runner.state.peek(pid) if pid is not None else None
    if profile is None:
        return None
    subject = runner.privacy.subject(profile)
    merges = tuple(m for rid in subject.record_ids for m in runner.store.merges(rid))
    rows = sorted(runner.store.timeline(subject.record_ids, limit=_ALL), key=lambda r: r.seq)
    events = tuple(MovedEvent(_message_id(r.payload, r.seq, profile.id), r.ts, r.received_at,
                              bytes(r.payload)) for r in rows)
    return Leaving(profile, subject.record_ids, subject.keys, merges, events,
                   tuple(r.seq for r in rows))


def _message_id(payload: bytes, seq: int, record_id: str) -> str:
    try:
        named = _named.decode(payload).messageId
    except msgspec.DecodeError:
        named = None
    return named or f"moved-{record_id}-{seq}"


def forget(runner: Runner, gone: Leaving) -> None:
    """Drop from memory a record the store no longer holds (it moved away)."""
    state = runner.state
    timers = runner.pipeline.timers
    for rid in gone.record_ids:
        state.profiles.pop(rid, None)
        timers.set(rid, None)
    for key in (*gone.keys, *(f"m:{rid}" for rid in gone.record_ids)):
        state.identities[key] = None


def release(runner: Runner, key: str) -> None:
    """Take an identity key off the record that holds it here: the key moved to someone
    else's record in another engine (a device two people sign in on). The record is written
    at the next checkpoint; the key's identity row is the caller's to delete."""
    state = runner.state
    pid = state.lookup(key)
    if pid is not None:
        profile = state.get(pid)
        if key in profile.identities:
            profile.identities.remove(key)
            state.touch(pid)
    state.dirty_identities.pop(key, None)
    state.identities[key] = None


def adopt_events(runner: Runner, moved: Sequence[tuple[str, Sequence[MovedEvent]]]) -> int:
    """Log events that moved here, each group under its moved record's id, as already
    applied (the records that counted them move too), in one transaction. Returns how many
    were new here. Call it right after a checkpoint: the replay position moves past them."""
    if runner.state.unwritten():
        raise RuntimeError("moved events are logged right after a checkpoint")
    events = [(rid, e) for rid, group in moved for e in group]
    if not events:
        return 0
    with runner.store.transaction() as tx:
        first = tx.next_seq()
        dupes = tx.claim([e.message_id for _, e in events], first)
        rows = []
        prev: dict[str, int] = {}
        for i, (rid, e) in enumerate(events):
            if i not in dupes:
                rows.append((first + i, rid, e.ts, e.received_at, e.payload, prev.get(rid, 0)))
                prev[rid] = first + i
        tx.append(rows)
        last = rows[-1][0] if rows else runner.last_seq
        tx.put_state(last, {}, {}, [])  # a recovery starts after them
    runner.settle_position(last, len(rows))
    return len(rows)


@dataclass(frozen=True)
class Arrival:
    """A record that moved here: to join the record `by` (a key) names."""

    record: Profile
    merges: tuple[Merge, ...]
    by: str
    reason: str


def adopt_records(runner: Runner, arrivals: Sequence[Arrival]) -> list[Profile]:
    """Merge each record that moved here into the one its `by` key or one of its own keys
    names here, or keep it as it is when none does (or when that one has another user id);
    one checkpoint writes them all. Returns the records they live in now (one adopted
    before, sent again, is skipped: its `m:` key is known here). Call it after its events
    were logged (`adopt_events`)."""
    state, pipeline = runner.state, runner.pipeline
    now = runner.clock.now()
    book = pipeline.segments
    targets: dict[str, Profile] = {}
    for arrival in arrivals:
        record = arrival.record
        if state.lookup(f"m:{record.id}") is not None:
            continue
        keys = [k for k in record.identities if not k.startswith("m:")]
        into_id = next((pid for k in (arrival.by, *keys)
                        if (pid := state.lookup(k)) is not None), None)
        latest = runner.store.timeline([record.id], limit=1)
        record.last_seq = latest[0].seq if latest else 0  # its events' positions here
        log = list(arrival.merges)
        target = state.get(into_id) if into_id is not None else None
        if target is not None and None not in (target.user_id, record.user_id) and (
                target.user_id != record.user_id):
            _log.warning("moved record belongs to another user than the one it joins; "
                         "kept apart", extra={"record": record.id, "into": target.id})
            target = None  # two user ids are never merged (the sender checks this too)
        if target is None:
            state.adopt(record)
            target = record
        else:
            if target.id == record.id:  # a record of the same id began here meanwhile
                _log.warning("moved record meets one of its id; merged",
                             extra={"record": into_id})
            else:
                log.append(Merge(target.id, record.id, arrival.reason, now, record.last_seq))
            merge_into(target, record, pipeline.resolver.chain_limit)
            state.touch(target.id)
        for key in (*record.identities, f"m:{record.id}"):
            state.assign(key, target.id)
        changes = book.evaluate_some(target, book.everything, now) if book else []
        runner.changed(target, changes, now)
        pipeline.resolver.merges.extend(log)
        targets[target.id] = target
    runner.checkpoint()
    _log.info("records adopted", extra={"records": len(arrivals), "into": len(targets)})
    return list(targets.values())
