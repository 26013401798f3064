"""The runner: the pipeline over a store. Group commit, set-aside, checkpoints and recovery.

Durability: a batch's events are appended and committed before `process_many` returns, so an
acknowledged event is never lost; the log assigns their positions. `commit_batch(later=True)`
returns once the batch is written and lets the store finish its commit in the background
(`LogTransaction.commit_later`): its events may be acknowledged when `IngestResult.durable` is
done, and the engine runs the next batch meanwhile. State (records, identities, timers) lives
in memory and is written at checkpoints; opening a runner loads the last checkpoint and
replays the log after it.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import msgspec

from .._errors import StoreError
from .._gc import Survivors
from ..clock import Clock
from ..config import Settings
from ..events import Event, decode_batch, from_log
from ..profiles import Profile, decode_profile, find_keys
from ..scenarios import ONCE_BY_CONSTRUCTION, Effects
from ..segments import Change
from ..store import (
    AccountUpdate,
    JournalChain,
    JournalEntry,
    LogTransaction,
    Merge,
    OutboxRow,
    SegmentChange,
    SetAside,
    Store,
    StoredEvent,
)
from ._pipeline import Pipeline, PipelineFailure, Processed
from ._state import HotState
from ._suppress import SuppressionList

_encode = msgspec.json.Encoder().encode
_log = logging.getLogger("intently.engine")

Listener = Callable[[list[Processed]], None]
ChangeListener = Callable[[list[Change]], None]


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    first_seq: int = 0
    last_seq: int = 0
    duplicate_at: set[int] = field(default_factory=set)
    processed: list[Processed] = field(default_factory=list)
    suppressed: int = 0
    """events dropped because they carry a suppressed identity (not logged, not counted in
    `accepted`; an HTTP client is answered as if they were accepted)"""
    durable: Future[None] | None = None
    """With `commit_batch(later=True)`: done once the events are durable (failed when none was
    kept). None: durable already."""

    def add(self, other: IngestResult) -> None:
        self.durable = other.durable or self.durable
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.suppressed += other.suppressed
        self.first_seq = self.first_seq or other.first_seq
        self.last_seq = other.last_seq or self.last_seq
        self.processed.extend(other.processed)


WALK_PAGE = 1000
"""Records a page in `Runner.all_profiles` (events a page where a new segment counts the log):
one read of the store, and with events let through, the most a waiting batch waits for."""
COMMIT_PARTS = ("prepare", "read", "pipeline", "log", "checkpoint", "commit", "evict")
"""The parts of a group commit, in order: stamp and dedupe the batch; read the identities and
records it and its due timers need; run the pipeline (timers included); append the events and
the messages and journal rows they made; choose and encode the records due (an incremental
checkpoint); commit (a backend that holds its writes until then, as SQLite does, writes them
here, with the WAL and its fsync; with `later`, it waits for the batch before to be durable,
writes this one and hands its `COMMIT` to the store's commit thread); after it, evict written
records or write all when behind."""


def _stored(row: StoredEvent) -> Event:
    return from_log(row.payload, row.ts, row.received_at)


def _account_update(ev: Event) -> AccountUpdate:
    """A group call: the account's traits (moved aside on decode) and who joined it."""
    traits = ev.properties.get("group_traits")
    member = f"u:{ev.user_id}" if ev.user_id else f"a:{ev.anonymous_id}"
    return AccountUpdate(str(ev.group_id), traits if isinstance(traits, dict) else {}, ev.ts,
                         member)


class Runner:
    """Runs a pipeline over a store. Single-threaded: one runner owns its store for writing
    (`EngineWorker` shares it between threads)."""

    def __init__(self, store: Store, state: HotState, pipeline: Pipeline, settings: Settings,
                 clock: Clock, secret: bytes, readonly: bool = False) -> None:
        """`secret`: the store's own (`_catalog.secret`), read once by the engine."""
        self.store = store
        self.state = state
        self.pipeline = pipeline
        self.settings = settings
        self.clock = clock
        self.readonly = readonly
        self.listeners: list[Listener] = []
        self.change_listeners: list[ChangeListener] = []
        self.events_processed = 0
        self.events_set_aside = len(store.set_aside_seqs())
        self.messages_queued = 0
        self._stored = -1  # events in the log, counted once when first asked
        self._ids = map(f"ik-{os.urandom(6).hex()}-{{}}".format, count())  # for events with none
        self._busy_at = time.monotonic()  # the last commit or checkpoint
        self._commits: deque[tuple[int, float]] = deque()  # (first position, when), recent
        # segment entries and exits of records not written yet, by record: an incremental
        # checkpoint takes those of the records it writes without reading the others
        self._held: dict[str, list[Change]] = {}
        self._held_timers: dict[str, float | None] = {}  # their timers, the same way
        self._due_up_to = 0  # records changed at or before this position are due to be written
        # the longest checkpoint so far (records written in a commit, or a full checkpoint),
        # and the longest commit (its fsync and the records it carried included)
        self.checkpoint_seconds_max = 0.0
        self.commit_seconds_max = 0.0
        # seconds spent in each part of the group commits so far (`COMMIT_PARTS`; timers
        # fired by `tick` count as pipeline and commit): where ingest time goes (the
        # realistic bench reports it per event)
        self.seconds_in = dict.fromkeys(COMMIT_PARTS, 0.0)
        self.survivors = Survivors()  # frozen after each commit, where the process asked
        self._seq = 0  # the last committed log position (the log assigns them)
        self.secret = secret
        self.suppression = SuppressionList(store, store, secret)
        self._landing: Future[None] | None = None  # the last batch committed in the background
        self.reloads = 0  # times the engine went back to its last checkpoint (`reload`)
        self._catch_up = 0  # the next incremental checkpoint writes this many, whatever their age
        self.between_pages: Callable[[], None] | None = None
        """Called between the pages of a walk through every record that lets events through
        (`all_profiles(let_through=True)`): the engine's worker commits the events waiting
        there, so that a segment added to a large store does not hold ingest back."""
        self.recovered = self._recover()

    # -- writing
    def process(self, event: Event | dict[str, Any] | bytes) -> Processed | None:
        """Process one event durably. Returns None for a duplicate messageId."""
        result = self.process_many([event], keep=True)
        return result.processed[0] if result.processed else None

    def process_many(self, events: Iterable[Event | dict[str, Any] | bytes], *,
                     keep: bool = False) -> IngestResult:
        """Process events in group commits of `settings.batch_size`. Every event is validated
        first; a ValidationError names the index of the bad one and nothing of its batch is
        kept. With `keep`, the result lists what each event did."""
        total = IngestResult()
        size = self.settings.batch_size
        items: list[Event | dict[str, Any] | bytes] = []
        offset = 0
        for item in events:
            items.append(item)
            if len(items) >= size:
                total.add(self.commit_batch(*decode_batch(items, offset), keep=keep))
                offset += len(items)
                items = []
        if items:
            total.add(self.commit_batch(*decode_batch(items, offset), keep=keep))
        return total

    def commit_batch(self, batch: list[Event], raws: Sequence[bytes | None] | None = None, *,
                     keep: bool = False, later: bool = False, hand_over: bool = True
                     ) -> IngestResult:
        """One group commit of validated events: dedupe, pipeline, append, commit.

        `raws[i]`, when given, is event i's JSON exactly as received; it is stored as is
        instead of encoding the event again (unless the runner had to fill in its messageId).

        `later`: return once the batch is written; the store may finish the commit while the
        caller goes on (`result.durable` says when; `land` waits). Callers acknowledge the
        events only then. `hand_over`: see `LogTransaction.commit_later` (False for callers
        whose clients wait on each commit, such as `EngineWorker`).

        When more than `settings.wakes_per_commit` timers fall due within the batch (a quiet
        night's held sends, windows closing together), it is committed in parts, in the same
        order: the events before the burst, the burst's timers (in commits of at most that
        many, `_fire_ahead`), then the events after. What the timers do is the same; only the
        commits are smaller. The whole batch is checked before any part commits."""
        if self.readonly:
            raise RuntimeError("this engine was opened read-only")
        cuts, due = self._bursts(batch)  # on the times claimed: at most too many
        if not cuts:  # (the records whose timers may fire, walked once: read them ahead)
            return self._commit(batch, raws, keep, due, later, hand_over=hand_over)
        missing = [not ev.message_id for ev in batch]
        self.pipeline.prepare(batch, raws, self.clock.now(), 0, self._ids,
                              future_s=self.settings.future_tolerance_seconds,
                              max_bytes=self.settings.max_event_bytes)  # raises before any part
        if raws is not None:  # an id filled in just now is not in the JSON as received
            raws = [None if gone else raw for raw, gone in zip(raws, missing, strict=True)]
        cuts, due = self._bursts(batch)  # on the times filed (a claim too far ahead is not)
        if not cuts:
            return self._commit(batch, raws, keep, due)
        total = IngestResult()
        start = 0
        for cut, burst in [*cuts, (len(batch), [])]:
            if cut > start:
                part = self._commit(batch[start:cut], raws[start:cut] if raws else None, keep)
                total.add(part)
                total.duplicate_at |= {start + i for i in part.duplicate_at}
            self._fire_ahead(burst)
            start = cut
        return total

    def _bursts(self, batch: list[Event]
                ) -> tuple[list[tuple[int, list[tuple[float, str]]]], list[str] | None]:
        """Where the batch is cut for its timers: (event index, the timers due before it,
        due time and record, in order) wherever more than `wakes_per_commit` fall due
        between two events (timers fire before the first event at or after their time);
        and the records whose timers may fire within the batch, when it walked the queue
        for them (None when the queue is short)."""
        limit = max(1, self.settings.wakes_per_commit)
        timers = self.pipeline.timers
        if not batch or len(timers.heap) <= limit:
            return [], None
        latest = max(ev.ts for ev in batch)
        found = timers.due_until(latest)
        if len(found) <= limit:
            return [], found
        when = timers.due
        times = sorted({(t, pid) for pid in found
                        if (t := when.get(pid)) is not None and t <= latest})
        if len(times) <= limit:
            return [], found
        keys = [t for t, _ in times]
        cuts: list[tuple[int, list[tuple[float, str]]]] = []
        fired = 0
        reached = float("-inf")
        for i, ev in enumerate(batch):
            if ev.ts > reached:
                reached = ev.ts
                upto = bisect.bisect_right(keys, reached)
                if upto - fired > limit:
                    cuts.append((i, times[fired:upto]))
                    fired = upto
        return cuts, found

    def _fire_ahead(self, due: list[tuple[float, str]]) -> None:
        """Fire these timers (due times in order) before the next event, in commits of at
        most `wakes_per_commit` records: each chunk's records read in one query, its
        messages and journal rows committed; the records woken are written by the next
        incremental checkpoints, as after `tick`."""
        limit = max(1, self.settings.wakes_per_commit)
        for start in range(0, len(due), limit):
            chunk = due[start : start + limit]
            began = time.perf_counter()
            self.state.prefetch([], [pid for _, pid in chunk])
            self.seconds_in["read"] += time.perf_counter() - began
            self.tick(chunk[-1][0])
            self.maybe_checkpoint()

    def _commit(self, batch: list[Event], raws: Sequence[bytes | None] | None, keep: bool,
                due: list[str] | None = None, later: bool = False, aside: bool = True, *,
                hand_over: bool = True) -> IngestResult:
        """One group commit; `due`: the records whose timers may fire by the batch's latest
        time, if the caller walked the queue for them already. They are only read ahead: a
        record left out (the walk was on the times claimed, before filing) is read when its
        timer fires, one more not needed is only cached. `later`, `hand_over`: see
        `commit_batch`. An event the pipeline fails on is set aside (`_set_aside`), or with
        `aside` False the failure is raised once nothing of the batch is kept."""
        self._fresh()
        began = time.perf_counter()
        now = self.clock.now()
        s = self.settings
        pipeline = self.pipeline
        tx = self.store.transaction()
        try:  # all checks before any state changes
            first = tx.next_seq()
            mids, payloads, orders = pipeline.prepare(
                batch, raws, now, first, self._ids, future_s=s.future_tolerance_seconds,
                max_bytes=s.max_event_bytes)
        except BaseException:
            tx.rollback()
            raise
        wanted = keep or bool(self.listeners)
        pending_before = len(pipeline.pending)
        blocked = self.suppression.blocked(batch)
        try:
            dupes = tx.claim(mids, first)
            if blocked:  # dropped like duplicates: never logged, never applied
                blocked -= dupes
                dupes |= blocked
            if orders:  # the same order sent twice (a browser and a server, say) counts once
                orders = [(o, seq) for o, seq in orders if seq - first not in dupes]
                dupes |= {seq - first for seq in tx.claim_orders(orders)}
            latest = max(ev.ts for ev in batch) if batch else now
            claimed = time.perf_counter()
            self.state.prefetch(batch, pipeline.timers.due_until(latest) if due is None else due)
            self.state.position = first
            read = time.perf_counter()
            applied = pipeline.apply_batch(batch, payloads, first, dupes, now, wanted)
            ran = time.perf_counter()
            tx.append(applied.rows)
            if applied.groups:
                tx.put_accounts([_account_update(ev) for ev in applied.groups])
            effects = pipeline.take_effects()
            if effects is not None:
                self._put_effects(tx, effects)
            last = tx.next_seq() - 1
            fresh = (pipeline.pending[pending_before:] if self.change_listeners else [])
            started = time.perf_counter()
            self._write_some(tx, first, last)
            written = time.perf_counter()
            if later:
                self._landing = durable = tx.commit_later(hand_over=hand_over)
            else:
                tx.commit()
                durable = None
            done = time.perf_counter()
            self.checkpoint_seconds_max = max(self.checkpoint_seconds_max, written - started)
            self.commit_seconds_max = max(self.commit_seconds_max, done - started)
            spent = self.seconds_in
            marks = (began, claimed, read, ran, started, written, done)
            for part, start, end in zip(COMMIT_PARTS, marks, marks[1:], strict=False):
                spent[part] += end - start  # all but "evict", counted after the commit
        except BaseException as exc:
            tx.rollback()
            self.reload()  # memory may hold effects of the rolled-back batch
            if isinstance(exc, PipelineFailure) and aside:
                return self._set_aside(batch, payloads, exc, keep)
            raise
        self._seq = max(self._seq, last)
        self.state.position = self._seq + 1
        accepted = len(applied.rows)
        result = IngestResult(accepted, len(dupes) - len(blocked), first, self._seq,
                              dupes - blocked if blocked else dupes, applied.processed,
                              len(blocked), durable)
        if blocked:
            self.suppression.dropped(len(blocked))
        self.events_processed += accepted
        if self._stored >= 0:
            self._stored += accepted
        self._busy_at = time.monotonic()
        if self.listeners and applied.processed:
            for listener in self.listeners:
                listener(applied.processed)
        if fresh:
            for change_listener in self.change_listeners:
                change_listener(fresh)
        if not keep:
            result.processed = []
        after = time.perf_counter()
        self.maybe_checkpoint()
        self.seconds_in["evict"] += time.perf_counter() - after
        return result

    def _set_aside(self, batch: list[Event], payloads: list[bytes], failure: PipelineFailure,
                   keep: bool) -> IngestResult:
        """Commit the batch with event `failure.index` logged but set aside (not applied),
        with its error: the client's events are all kept, and the engine goes on. The events
        after it are committed the same way, in a loop (each part in one commit, its timers
        with it): a batch whose events all fail is set aside event by event, not in a call
        nested per event."""
        result = IngestResult()
        start = 0  # the events before it are committed
        while True:
            i = start + failure.index
            error = f"{type(failure.error).__name__}: {failure.error}"[:2000]
            _log.error("event set aside: the pipeline failed on it", extra={
                "message_id": batch[i].message_id, "error": error})
            if i > start:
                try:
                    self._took(result, self._commit(batch[start:i], payloads[start:i], keep,
                                                    aside=False), start)
                except PipelineFailure as earlier:  # (the events before it failed this time)
                    failure = earlier
                    continue
            ev = batch[i]
            if self.set_aside_raw(payloads[i], ev.message_id or "", error, ev.received_at,
                                  ts=ev.ts):
                result.accepted += 1
            else:
                result.duplicates += 1
                result.duplicate_at.add(i)
            start = i + 1
            if start == len(batch):
                break
            try:
                self._took(result, self._commit(batch[start:], payloads[start:], keep,
                                                aside=False), start)
            except PipelineFailure as later:
                failure = later
                continue
            break
        result.last_seq = self._seq
        return result

    @staticmethod
    def _took(result: IngestResult, part: IngestResult, offset: int) -> None:
        """Add what a part of the batch, from event `offset` on, did."""
        result.add(part)
        result.duplicate_at.update(offset + d for d in part.duplicate_at)

    def set_aside_raw(self, payload: bytes, message_id: str, error: str, received_at: float,
                      *, ts: float | None = None) -> bool:
        """Log an accepted event that is not applied (the pipeline failed on it, or a cluster
        worker cannot read it or refuses it), set aside with its error: nothing accepted is
        lost, and the engine goes on. False when its message id was logged already."""
        if self.readonly:
            raise RuntimeError("this engine was opened read-only")
        self.land()
        with self.store.transaction() as tx:
            seq = tx.next_seq()
            if tx.claim([message_id], seq):
                return False
            tx.append([(seq, "", received_at if ts is None else ts, received_at, payload, 0)])
            tx.set_aside(seq, error[:2000], received_at)
        self._seq = seq
        self.events_set_aside += 1
        if self._stored >= 0:
            self._stored += 1
        return True

    def land(self) -> None:
        """Wait until the batch committed in the background (`commit_batch(later=True)`) is
        durable. If it failed, nothing of it was kept: back to the last checkpoint, and raise."""
        landing = self._landing
        try:
            self.store.settle()
            failure = None if landing is None else landing.exception()
            if failure is not None:  # seen by another thread first: raised here all the same
                raise failure
        except BaseException:
            self.reload()
            raise
        self._landing = None

    def _fresh(self) -> None:
        """Before a batch: if the one committed in the background failed meanwhile (its
        failure seen elsewhere, so nothing reloaded yet), back to the last checkpoint."""
        landing = self._landing
        if landing is not None and landing.done():
            self._landing = None
            if landing.exception() is not None:
                self.reload()

    def settle_position(self, last: int, added: int) -> None:
        """Events were logged outside `commit_batch` (a record moved here with its events),
        up to position `last`."""
        self._seq = max(self._seq, last)
        self.state.position = self._seq + 1
        if self._stored >= 0:
            self._stored += added

    def _put_effects(self, tx: LogTransaction, effects: Effects,
                     replayed_after: int | None = None) -> None:
        """The messages and journal rows the scenarios produced, with the events' transaction;
        each record keeps its newest journal row, where the store chains them. `replayed_after`:
        the effects come from a replay of the log after this position."""
        encode = _encode
        profiles = self.state.profiles
        heads: dict[str, int] = {}
        chained: list[JournalEntry] = []
        once: list[JournalEntry] = []  # kinds that may come again: kept once by id
        for r in effects.journal:
            pid = r.profile_id
            entry = JournalEntry(r.id, r.scenario, pid, r.arm, r.kind, r.ts, r.value, r.ref)
            if r.kind not in ONCE_BY_CONSTRUCTION:
                once.append(entry)
                continue
            chained.append(entry)
            if pid not in heads:
                p = profiles.get(pid)
                heads[pid] = int(p.journal_head) if p is not None else 0
        newest = tx.put_effects(
            [OutboxRow(m.id, m.scenario, m.profile_id, m.arm, m.channel, m.due, encode(m))
             for m in effects.messages], once,
            JournalChain(chained, heads, self.state.position, replayed_after))
        for pid, n in newest.items():
            p = profiles.get(pid)
            if p is not None and p.journal_head != n:
                p.journal_head = float(n)
                self.state.touch(pid)
        self.messages_queued += len(effects.messages)

    def _flush_effects(self, replayed_after: int | None = None) -> None:
        """Commit effects made outside a batch (timers fired by the clock, a replay of the log
        after position `replayed_after`)."""
        effects = self.pipeline.take_effects()
        if effects is None or self.readonly:
            return
        self.land()
        with self.store.transaction() as tx:
            self._put_effects(tx, effects, replayed_after)

    def tick(self, now: float | None = None) -> list[Change]:
        """Fire segment and scenario timers due by `now` (the clock's time by default):
        customers leave "cart abandoners" when the day passes, with no event of theirs, and a
        reminder goes out three hours after an abandoned cart. Returns the segment changes."""
        self.land()
        began = time.perf_counter()
        changes = self.pipeline.fire(self.clock.now() if now is None else now)
        ran = time.perf_counter()
        self._flush_effects()
        done = time.perf_counter()
        self.seconds_in["pipeline"] += ran - began
        self.seconds_in["commit"] += done - ran
        self.commit_seconds_max = max(self.commit_seconds_max, done - ran)
        if changes:
            for listener in self.change_listeners:
                listener(changes)
        return changes

    # -- what the state holds
    @property
    def last_seq(self) -> int:
        """The log position of the last committed event."""
        return self._seq

    def events_stored(self) -> int:
        """Events in the log (duplicates are not stored, so not counted)."""
        if self._stored < 0:
            self._stored = self.store.count_events()
        return self._stored

    def logged(self, after: int = 0) -> Iterator[Event]:
        """The log's events after position `after`, in order."""
        for rows in self.store.read_log(after=after):
            for row in rows:
                yield _stored(row)

    def set_aside_events(self, limit: int = 100) -> list[SetAside]:
        """Events logged but not applied, with their errors, newest first."""
        return self.store.set_aside_events(limit)

    def peek(self, profile_id: str) -> Profile | None:
        """A record by its id, without making it recent in the cache."""
        return self.state.peek(profile_id)

    def find(self, identifier: str) -> Profile | None:
        """A record by record id, userId, anonymousId, email, phone, or the id of a record
        that was merged into it. Safe to call from a thread other than the writer's (a
        decision at the till): it reads what memory holds, else the store as of its last
        commit, never waits for the writer's group commit, and changes nothing
        (`HotState.glance`)."""
        state = self.state
        profile = state.profiles.get(identifier)
        if profile is not None:
            return profile
        for key in find_keys(identifier):
            pid = state.glance_lookup(key)
            if pid is not None:
                profile = state.glance(pid)
                if profile is not None:
                    return profile
        return state.glance(identifier)

    def all_profiles(self, *, let_through: bool = False) -> Iterator[Profile]:
        """Every record, a page of `WALK_PAGE` at a time: those cached when the walk starts,
        then the stored ones after them by id (each page's uncached records in one read,
        without filling the cache). With `let_through`, `between_pages` runs after each page
        (events are committed there): a record is then read when its page comes, from the
        cache where an event brought it meanwhile (it is newer there), and one merged away
        meanwhile is skipped. A walk that lets events through must work from each record as
        it is (a segment evaluated, a wait looked at again), since records it has passed
        keep changing."""
        state, store = self.state, self.store
        first = list(state.profiles)
        done = set(first)
        for start in range(0, len(first), WALK_PAGE):
            yield from self._page(first[start:start + WALK_PAGE])
            if let_through:
                self.let_events_through()
        after: str | None = None
        # a page of ids after the last, and their records in one read: by offsets and one
        # read a record, 200,000 customers' three scenario scans took 8 s more than this
        while ids := store.profile_ids(limit=WALK_PAGE, after=after):
            after = ids[-1]
            yield from self._page([pid for pid in ids if pid not in done])
            if let_through:
                self.let_events_through()

    def let_events_through(self) -> None:
        """Between two pages of a long walk (records, or the log): where `between_pages` is
        set, write what the walk changed so far (else a walk that changes half a million
        records writes them all at its end, ingest waiting), then let the events through."""
        between = self.between_pages
        if between is None:
            return
        if self.state.unwritten() >= WALK_PAGE:
            self._catch_up = 2 * WALK_PAGE  # with the events' commit: one commit, not two
        try:
            between()
        except BaseException:  # the walk stops
            self._catch_up = 0
            raise
        if self._catch_up:  # no events came
            self._write_oldest(self._catch_up)

    def _write_oldest(self, limit: int) -> None:
        """An incremental checkpoint of its own (no batch with it): the `limit` records
        changed longest ago, whatever their age, with what goes with them."""
        self.land()
        tx = self.store.transaction()
        try:
            first = tx.next_seq()
            self._write_some(tx, first, first - 1, catch_up=limit)
            tx.commit()
        except BaseException:
            tx.rollback()
            self.reload()
            raise
        self.state.evict()

    def records(self, ids: Iterable[str]) -> dict[str, Profile]:
        """The records of these ids (a page of the log's record ids) as they are now, each
        read once: from the cache, else in one read of the store; an id merged into another
        record gives that record (its `m:` key, all such in one look-up), the same object as
        under its own id."""
        profiles, dropped = self.state.profiles, self.state.dropped
        found: dict[str, Profile] = {}
        wanted: list[str] = []
        merged: list[str] = []
        for pid in dict.fromkeys(ids):
            p = profiles.get(pid)
            if p is not None:
                found[pid] = p
            elif pid in dropped:
                merged.append(pid)
            else:
                wanted.append(pid)
        if wanted:
            blobs = self.store.load_profiles(wanted)
            for pid in wanted:
                blob = blobs.get(pid)
                if blob is not None:
                    found[pid] = decode_profile(blob)
                else:
                    merged.append(pid)
        if merged:  # each followed by its "m:" key to the record it joined, in one look-up
            identities = self.state.identities
            keys = {"m:" + pid: pid for pid in merged}
            into: dict[str, str] = {}
            for key in keys:
                known = identities.get(key)
                if known is not None:
                    into[key] = known
            into.update(self.store.resolve_many([k for k in keys if k not in into]))
            targets = {pid: into[key] for key, pid in keys.items() if key in into}
            joined = self.records([t for t in targets.values() if t not in found])
            for pid in merged:
                target = targets.get(pid)
                p = None
                if target is not None:
                    p = found.get(target)
                    if p is None:
                        p = joined.get(target)
                if p is None:
                    p = self.find(pid)  # (a record the store no longer knows: erased)
                if p is not None:
                    found[pid] = found.get(p.id, p)
        return found

    def _page(self, ids: list[str]) -> Iterator[Profile]:
        """The records of `ids` as they are now: cached ones from the cache, the others read
        in one query; records merged away are left out."""
        profiles, dropped = self.state.profiles, self.state.dropped
        wanted: list[str] = []
        for pid in ids:
            p = profiles.get(pid)
            if p is not None:
                yield p
            elif pid not in dropped:
                wanted.append(pid)
        if wanted:
            for blob in self.store.load_profiles(wanted).values():
                yield decode_profile(blob)

    def changed(self, profile: Profile, changes: list[Change], now: float) -> None:
        """A record was changed outside an event (a segment added, a model swapped): keep it
        until the checkpoint writes it, with its segment changes, and work out its timer."""
        pipeline = self.pipeline
        if changes:
            pipeline.pending.extend(changes)
        self.state.adopt(profile)
        pipeline.reschedule(profile, now)

    # -- checkpoints and recovery
    def _write_some(self, tx: LogTransaction, first: int, last: int, *, catch_up: int = 0
                    ) -> None:
        """An incremental checkpoint, with the batch's commit: the records that changed longest
        ago (past `checkpoint_seconds` or `checkpoint_events`, or the oldest when too many are
        unwritten), up to `checkpoint_records` of them, with their identities, merges, segment
        changes and timers; and the position a recovery now replays from. `catch_up` (or
        `_catch_up`, set between the pages of a walk): the oldest that many instead, whatever
        their age."""
        s, state, pipeline = self.settings, self.state, self.pipeline
        now = time.monotonic()
        commits = self._commits
        commits.append((first, now))
        while commits and commits[0][1] <= now - s.checkpoint_seconds:
            self._due_up_to = max(self._due_up_to, commits.popleft()[0])
        up_to = max(self._due_up_to, last - s.checkpoint_events)
        limit = s.checkpoint_records
        over = state.unwritten() - state.capacity // 2
        if over > 0:  # keep half the cache for written records (the ones it can evict),
            # catching up at most twice the usual amount in one commit
            up_to, limit = last, min(max(limit, over), 2 * limit)
        catch_up, self._catch_up = catch_up or self._catch_up, 0
        if catch_up:
            up_to, limit = last + 1, catch_up
        chosen = set(state.oldest(up_to, limit))
        resolver = pipeline.resolver
        if chosen and (resolver.merges or resolver.links):
            _with_partners(chosen, resolver.links, resolver.merges, state)
        if not chosen and not pipeline.timers.updates:
            return
        profiles, identities = state.take(chosen)
        # What goes with them: the merges, segment changes and timers of records in this
        # write or written already. Changes and timers of records still unwritten (tens of
        # thousands at a million customers) wait in `_held`, by record, so a commit reads
        # only this batch's and those of the records it writes; the merge and link lists are
        # short, and read once with the look-ups inline.
        dirty, dropped = state.dirty, state.dropped
        merges: list[Merge] = []
        if resolver.merges:
            waiting: list[Merge] = []
            for m in resolver.merges:
                a, b = m.into_id, m.from_id
                if ((a in chosen or (a not in dirty and a not in dropped))
                        and (b in chosen or (b not in dirty and b not in dropped))):
                    merges.append(m)
                else:
                    waiting.append(m)
            resolver.merges = waiting
        if resolver.links:
            resolver.links = [(a, b) for a, b in resolver.links
                              if not ((a in chosen or (a not in dirty and a not in dropped))
                                      and (b in chosen or (b not in dirty and b not in dropped)))]
        held = self._held
        changes: list[SegmentChange] = []
        for pid in chosen:  # older than this batch's
            got = held.pop(pid, None)
            if got:
                changes += [SegmentChange(pid, c.segment, c.entered, c.ts) for c in got]
        for c in pipeline.pending:
            pid = c.profile_id
            if pid in chosen or (pid not in dirty and pid not in dropped):
                changes.append(SegmentChange(pid, c.segment, c.entered, c.ts))
            else:
                held.setdefault(pid, []).append(c)
        pipeline.pending = []
        held_timers = self._held_timers
        timers: dict[str, float | None] = {}
        for pid in chosen:
            if pid in held_timers:
                timers[pid] = held_timers.pop(pid)
        for pid, due in pipeline.timers.take_updates().items():  # newer than the held ones
            if pid in chosen or (pid not in dirty and pid not in dropped):
                timers[pid] = due
            else:
                held_timers[pid] = due
        tx.put_state(state.replay_from(last), profiles, identities, merges, changes, timers)

    def maybe_checkpoint(self) -> None:
        """After a commit or when idle: drop written records from the cache when it is full;
        write every change when changes come faster than the incremental checkpoints write
        them, or when no commit came for `checkpoint_seconds`. Then freeze what survived, where
        the process asked (`Survivors`)."""
        state = self.state
        if state.unwritten() > 4 * state.capacity:
            _log.warning("incremental checkpoints fall behind: writing every change", extra={
                "unwritten": state.unwritten(), "cache_profiles": state.capacity})
            started = time.perf_counter()
            self.checkpoint()  # a pause in ingest
            self.checkpoint_seconds_max = max(self.checkpoint_seconds_max,
                                              time.perf_counter() - started)
        elif state.unwritten() and (
                time.monotonic() - self._busy_at >= self.settings.checkpoint_seconds):
            self.checkpoint()  # idle: write the rest, no commit waits on it
        elif state.over_capacity():
            state.evict()
        self.survivors.freeze(len(state.profiles))

    def checkpoint(self) -> None:
        """Write changed records, identities, merges, segment changes and timers; recovery
        replays from here."""
        if self.readonly:
            return
        self.land()
        pipeline = self.pipeline
        changes = [SegmentChange(c.profile_id, c.segment, c.entered, c.ts)
                   for c in (*(c for got in self._held.values() for c in got),
                             *pipeline.pending)]
        pipeline.pending = []
        self._held = {}
        timers = {**self._held_timers, **pipeline.timers.take_updates()}
        self._held_timers = {}
        self.state.checkpoint(self._seq, pipeline.resolver.merges, changes, timers)
        pipeline.resolver.merges = []
        pipeline.resolver.links = []
        self.state.evict()
        self._busy_at = time.monotonic()

    def _recover(self) -> int:
        """Load from the last checkpoint and replay the log after it. Returns events replayed."""
        store = self.store
        start = store.checkpoint_seq()
        skip = store.set_aside_seqs(start)
        replay = self.pipeline.replay
        state = self.state
        replayed = 0
        for rows in store.read_log(after=start):
            events: list[Event | Exception] = []
            for row in rows:
                try:
                    events.append(_stored(row))
                except Exception as exc:  # set aside below, unless it was already
                    events.append(exc)
            self.state.prefetch([ev for ev in events if isinstance(ev, Event)])
            for row, ev in zip(rows, events, strict=True):
                if skip and row.seq in skip:
                    continue
                state.position = row.seq
                try:
                    if isinstance(ev, Exception):
                        raise ev
                    profile = replay(ev, row.seq)
                except Exception as exc:  # stored by an older version, or a defect
                    if self.readonly:
                        raise
                    return self._set_aside_stored(row, exc)
                if profile is not None:
                    replayed += 1
        self._seq = store.last_seq()
        state.position = self._seq + 1
        self._flush_effects(start)  # the same ids as before the crash: the store keeps each once
        if replayed and not self.readonly:
            self.checkpoint()
        return replayed

    def _set_aside_stored(self, row: StoredEvent, exc: Exception) -> int:
        """A logged event fails on replay: set it aside and recover again without it, so a
        restart never halts on one event."""
        error = f"{type(exc).__name__}: {exc}"[:2000]
        _log.error("event set aside during recovery", extra={"seq": row.seq, "error": error})
        self.events_set_aside += 1
        with self.store.transaction() as tx:
            tx.set_aside(row.seq, error, self.clock.now())
        self.reload()
        return self.recovered

    def recount(self) -> None:
        """The log changed under the runner (events dropped): count it again when asked."""
        self._stored = -1

    def reload(self) -> None:
        """Back to the last checkpoint, then replay: memory may hold a rolled-back batch, or a
        record the store no longer has (an erasure)."""
        # a batch still landing first: what it kept, or not, is what replays (its failure
        # was logged, and its future says so)
        self.reloads += 1
        with contextlib.suppress(StoreError):
            self.store.settle()
        self._landing = None
        self.recount()
        self.state.clear()
        self._held, self._held_timers = {}, {}
        self.pipeline.reset(self.store.load_timers())
        self.recovered = self._recover()

    def close(self) -> None:
        try:
            if not self.readonly:
                self.checkpoint()
            self.store.close()
        finally:
            self.survivors.thaw()


def _with_partners(chosen: set[str], links: list[tuple[str, str]], merges: list[Merge],
                   state: HotState) -> None:
    """Add to `chosen` every unwritten record that an event changed together with one in it
    (a merge, a moved identity): a checkpoint writes such records together or not at all."""
    partners: dict[str, list[str]] = {}
    for a, b in [*links, *((m.into_id, m.from_id) for m in merges)]:
        partners.setdefault(a, []).append(b)
        partners.setdefault(b, []).append(a)
    stack = [pid for pid in chosen if pid in partners]
    while stack:
        for other in partners.get(stack.pop(), ()):
            if other not in chosen and (other in state.dirty or other in state.dropped):
                chosen.add(other)
                stack.append(other)
