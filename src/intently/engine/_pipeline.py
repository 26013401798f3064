"""The pipeline: state and event in, state changed and effects out. Pure: it reads and writes
records through the state it is given and never touches a store, so the runner, training and
the dashboard's replays all run the same code.

    event -> resolve identity -> signals -> update golden record -> intent -> cluster
          -> segments (entries, exits) -> scenarios (messages, journal) -> timers

This module and the state it reads are the hot path (compiled with mypyc, see `_hot.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from .._errors import PayloadTooLarge
from ..events import Event, Vocabulary, filed_time
from ..events.signals import PURCHASED, action_of
from ..intent import ClusterModel, IntentScorer
from ..profiles import (
    Aggregator,
    ItemView,
    Profile,
    ProfileState,
    RecordSettings,
    Resolver,
)
from ..scenarios import Effects, ScenarioBook
from ..segments import Change, SegmentBook
from ._timers import Timers

_encode = msgspec.json.Encoder().encode
_NO_WINDOWS: dict[str, Any] = {}  # read only: a record with no windowed conditions yet


class PipelineState(ProfileState, Protocol):
    """The records the pipeline reads and writes: a cache in front of a store (the runner's),
    or plain memory (a replay)."""

    def load(self, profile_id: str) -> Profile | None:
        """A record for a timer: None if it was merged away or never existed."""


@dataclass(slots=True)
class Processed:
    """What one event did: the record it landed on, its signals (derived ones included), and
    the record's journey and purchase probability right after it (the record itself may have
    moved on by the time a listener looks)."""

    event: Event
    profile: Profile
    signals: tuple[str, ...]
    journey_start: float
    intent: float
    cluster: str | None
    item: ItemView | None = None  # the event's item and its features, where it names one


class PipelineFailure(Exception):
    """The pipeline failed on event `index` of a batch (the batch is rolled back)."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


@dataclass(slots=True)
class Applied:
    """A batch through the pipeline: its log rows `(seq, record id, ts, received, payload,
    previous seq of the record)`, its `group` calls, and (when asked) what each event did."""

    rows: list[tuple[int, str, float, float, bytes, int]]
    groups: list[Event]
    processed: list[Processed]


class Pipeline:
    def __init__(self, state: PipelineState, vocabulary: Vocabulary, record: RecordSettings, *,
                 intent: IntentScorer | None = None, clusters: ClusterModel | None = None,
                 segments: SegmentBook | None = None, scenarios: ScenarioBook | None = None,
                 timers: dict[str, float] | None = None) -> None:
        self.state = state
        self.vocabulary = vocabulary
        self.aggregator = Aggregator(record)
        self.resolver = Resolver(state, chain_limit=record.chain_limit)
        self.intent = intent
        self.clusters = clusters
        self.segments = segments if segments is not None else SegmentBook({})
        self.scenarios = scenarios
        self.timers = Timers(timers)
        self.pending: list[Change] = []  # segment entries and exits for the next checkpoint
        self.wakes = 0  # records woken by their timers since the start (what timers cost)

    def reset(self, timers: dict[str, float]) -> None:
        """Forget everything since the last checkpoint (its `timers`): a rolled-back batch."""
        self.timers.reset(timers)
        self.pending = []
        self.resolver.merges = []
        self.resolver.links = []
        self.resolver.left = []
        if self.scenarios is not None:
            self.scenarios.effects.take()

    # -- one event
    def replay(self, ev: Event, seq: int) -> Profile | None:
        """`apply` for a recovery, the event at log position `seq`: None (nothing done) when
        its record was written with this event in it already (an incremental checkpoint
        wrote the record after the position the recovery replays from)."""
        if self.timers.due_by(ev.ts):
            self.fire(ev.ts)
        pid = self.resolver.peek(ev)
        if pid is not None:
            stored = self.state.load(pid)
            if stored is not None and stored.last_seq >= seq:
                return None
        profile = self.apply(ev)[0]
        profile.last_seq = float(seq)
        return profile

    def apply(self, ev: Event) -> tuple[Profile, tuple[str, ...]]:
        """Run one event through the pipeline; returns its record and its signals."""
        # never past the receive time by more than the tolerance: timers follow time, not a
        # client's claim
        ts = ev.ts
        timers = self.timers
        if timers.due_by(ts):
            self.fire(ts)
        resolver = self.resolver
        merges = len(resolver.merges)
        profile = resolver.resolve(ev)
        merged = len(resolver.merges) != merges
        name = action_of(ev)
        signals = self.aggregator.update(profile, ev, self.vocabulary.signals_for(ev, name), name)
        intent_before, cluster_before = profile.intent, profile.cluster
        if self.intent is not None:
            self.intent.score(profile, signals, ts, ev.properties, self.aggregator.item_view)
        clusters = self.clusters
        # the cluster follows the chain: new signals, or a merge that blended two chains
        if clusters is not None and (signals or merged):
            cluster = clusters.assign(frozenset(profile.chain))
            if cluster is not cluster_before:
                profile.cluster = cluster
        book = self.segments
        changes: list[Change] = []
        wake = profile.id in timers.due
        if book.compiled:
            changes = book.on_event(profile, ev, signals, ts, merged)
            if merged and resolver.left:  # records merged away leave their segments
                changes = [*(Change(rid, name, False, ts) for rid, names in resolver.left
                             for name in names), *changes]
                resolver.left = []
            if changes:
                self.pending.extend(changes)
            if book.clocked:  # only the rules this event could change have new wake-ups
                names = book.last_clocked
                if (names or profile.id in timers.segments) and self._next_changes(
                        profile, ts, names):
                    wake = True
        elif resolver.left:  # no segment to leave any more
            resolver.left = []
        scenarios = self.scenarios
        if scenarios is not None and (scenarios.scenarios or profile.sc is not None):
            scenarios.on_event(profile, ev, signals, changes, intent_before, cluster_before,
                               merged)
            wake = wake or profile.sc is not None
        if wake:
            self._schedule(profile)
        self.state.touch(profile.id)
        return profile, signals

    # -- timers
    def fire(self, until: float) -> list[Change]:
        """Fire every timer due at or before `until`, each at its own due time: segment entries
        and exits that time alone causes (they may start scenarios), then scenario steps."""
        fired: list[Change] = []
        timers, state, book, scenarios = self.timers, self.state, self.segments, self.scenarios
        while True:
            found = timers.pop(until)
            if found is None:
                return fired
            when, pid = found
            p = state.load(pid)
            if p is None:  # merged away
                timers.segments.pop(pid, None)
                continue
            self.wakes += 1
            changed = False
            if book.clocked:
                known = timers.segments.get(pid)
                names = (list(book.clocked) if known is None
                         else [n for n, t in known.items() if t <= when])
                changes = book.evaluate_some(p, names, when) if names else []
                if changes:
                    changed = True
                    fired.extend(changes)
                    self.pending.extend(changes)
                    if scenarios is not None and scenarios.scenarios:
                        for c in changes:
                            scenarios.on_segment_change(p, c)
                        scenarios.release(p, when, due_now=True)  # as a timer due now would
                self._next_changes(p, when, names)
            if scenarios is not None and p.sc is not None:
                due = scenarios.next_due(p)
                if due is not None and due <= when:
                    scenarios.wake(p, when)
                    changed = True
            if changed:
                state.touch(pid)
            self._schedule(p)

    def reschedule(self, p: Profile, now: float) -> bool:
        """Work out the record's wake-up again from every clocked segment and its scenarios
        (after a segment was added, a model changed what a rule reads or a scenario was
        replaced); whether its held scenario waits moved (the record is to be written)."""
        scenarios = self.scenarios
        moved = scenarios is not None and scenarios.release(p, now)
        self._next_changes(p, now, list(self.segments.clocked))
        self._schedule(p)
        return moved

    def _next_changes(self, p: Profile, now: float, names: Sequence[str]) -> bool:
        """Recompute when each of these clocked segments could next change for the record;
        whether any of its wake-ups moved."""
        pid = p.id
        timers = self.timers
        mine = timers.segments.get(pid)
        windows = p.windows
        if windows is None:
            windows = _NO_WINDOWS
        members = p.segments
        compiled = self.segments.compiled
        moved = False
        for name in names:
            comp = compiled.get(name)
            t = None if comp is None else comp.next_change(p, now, windows, name in members)
            if t is None:  # no wake-up (or a segment that was removed)
                if mine is not None and mine.pop(name, None) is not None:
                    moved = True
            else:
                if mine is None:
                    mine = timers.segments[pid] = {}
                if mine.get(name) != t:
                    mine[name] = t
                    moved = True
        if mine is not None and not mine:
            del timers.segments[pid]
        return moved

    def _schedule(self, p: Profile) -> None:
        """The record's one timer: the earliest of its segments' and scenarios' wake-ups."""
        mine = self.timers.segments.get(p.id)
        nxt = min(mine.values()) if mine else None
        scenarios = self.scenarios
        if scenarios is not None and p.sc is not None:
            due = scenarios.next_due(p)
            if due is not None and (nxt is None or due < nxt):
                nxt = due
        self.timers.set(p.id, nxt)

    # -- batches (what the runner commits)
    def prepare(self, batch: list[Event], raws: Sequence[bytes | None] | None, now: float,
                first: int, ids: Iterator[str], *, future_s: float, max_bytes: int
                ) -> tuple[list[str], list[bytes], list[tuple[str, int]]]:
        """Stamp a batch before anything changes: receive and filing times, message ids for
        events with none; their payloads (`raws[i]`, JSON as received, is stored as is), the
        message ids and the purchases' order ids with their log positions. An event over
        `max_bytes` raises `PayloadTooLarge`."""
        mids: list[str] = []
        payloads: list[bytes] = []
        orders: list[tuple[str, int]] = []
        for i, ev in enumerate(batch):
            if not ev.received_at:  # (set already when a batch is retried in parts)
                ev.received_at = now
                ev.ts = filed_time(ev, now, future_s)  # a native call (Event's is not)
            raw = raws[i] if raws is not None else None
            if not ev.message_id:
                ev.message_id = next(ids)
                raw = None
            mids.append(ev.message_id)
            payload = raw if raw is not None else _encode(ev)
            if "order_id" in ev.properties:
                order = self.order_of(ev)
                if order is not None:
                    orders.append((order, first + i))
            if len(payload) > max_bytes:
                raise PayloadTooLarge(f"event is {len(payload)} bytes, over the "
                                      f"{max_bytes}-byte limit", f"$[{i}]")
            payloads.append(payload)
        return mids, payloads, orders

    def order_of(self, ev: Event) -> str | None:
        """The order id of a purchase (by the vocabulary's signals), else None."""
        order = ev.properties["order_id"]
        if order is None or order == "" or type(order) is bool:
            return None
        if PURCHASED not in self.vocabulary.signals_for(ev, action_of(ev)):
            return None
        return str(order)

    def apply_batch(self, batch: list[Event], payloads: list[bytes], first: int,
                    skip: set[int], now: float, keep: bool) -> Applied:
        """Apply a batch's events (but those at the indexes in `skip`, duplicates) in order;
        event i takes log position `first + i`. Raises `PipelineFailure` naming the event
        that failed (the caller rolls back)."""
        rows: list[tuple[int, str, float, float, bytes, int]] = []
        groups: list[Event] = []
        done: list[Processed] = []
        apply = self.apply
        for i, ev in enumerate(batch):
            if skip and i in skip:
                continue
            try:
                profile, signals = apply(ev)  # a direct call when compiled
            except Exception as exc:  # a defect or a value validation let through
                raise PipelineFailure(i, exc) from exc
            prev = int(profile.last_seq)  # each event points back to its record's last one
            profile.last_seq = float(first + i)
            rows.append((first + i, profile.id, ev.ts, now, payloads[i], prev))
            if ev.type == "group" and ev.group_id:
                groups.append(ev)
            if keep:
                done.append(Processed(ev, profile, signals, profile.journey_start,
                                      profile.intent, profile.cluster))
        return Applied(rows, groups, done)

    def take_effects(self) -> Effects | None:
        """The messages and journal rows made since the last call (None: no scenarios)."""
        scenarios = self.scenarios
        if scenarios is None or not scenarios.effects:
            return None
        return scenarios.effects.take()
