"""Segments inside the engine: evaluation on each event, timers for answers that change with
time alone, and the entries and exits waiting for the next checkpoint.

Timers run on event time: before an event is applied, every timer due at or before its time
fires, so replaying history gives the same entries and exits as the live run; when no events
come, the engine worker ticks with the clock."""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable

from ..analytics.clv_live import CLVModel
from ..analytics.rfm import RFMModel
from ..events import Event
from ..profiles import Profile
from ..segments import Change, Field, Segment, SegmentBook, builtin_segments
from ..store import SegmentChange, Store

ChangeListener = Callable[[list[Change]], None]


def load_book(store: Store, builtin: bool = False, rfm: RFMModel | None = None,
              clv: CLVModel | None = None) -> SegmentBook:
    """The segments saved in the store, over the built-in ones when `builtin`; with an RFM
    model, rules can read `rfm.r`, `rfm.f`, `rfm.m`, `rfm.score` and `rfm.segment`; with a
    lifetime value model, `clv.p_alive`, `clv.expected_orders_90d` and `clv.value_90d`."""
    segments = {s.name: s for s in builtin_segments()} if builtin else {}
    for name, body in store.load_segments().items():
        segments[name] = Segment.from_json(json.loads(body))
    fields = rfm_fields(rfm) if rfm is not None else {}
    if clv is not None:
        fields.update(clv_fields(clv))
    return SegmentBook(segments, fields)


def clv_fields(model: CLVModel) -> dict[str, Field]:
    def reader(part: str) -> Callable[[Profile, float], object]:
        def read(p: Profile, now: float) -> object:
            score = model.score(p, now)
            return None if score is None else score[part]
        return read

    def wakeups(p: Profile, now: float, w: object) -> list[float]:
        # P(alive) and the expectations decay as time passes without an order: look daily
        return [now + 86400.0] if p.orders else []

    return {f"clv.{part}": Field(reader(part), frozenset({"purchased"}), wakeups)
            for part in ("p_alive", "expected_orders_90d", "value_90d")}


def rfm_fields(model: RFMModel) -> dict[str, Field]:
    def reader(part: str) -> Callable[[Profile, float], object]:
        def read(p: Profile, now: float) -> object:
            score = model.score(p, now)
            return None if score is None else score.to_json()[part]
        return read

    def wakeups(p: Profile, now: float, w: object) -> list[float]:
        # the recency score moves when the days since the last order cross a cut point
        return [p.last_order + d * 86400.0 + 1 for d in model.recency_days] if p.orders else []

    return {f"rfm.{part}": Field(reader(part), frozenset({"purchased"}), wakeups)
            for part in ("r", "f", "m", "score", "segment")}


class SegmentRuntime:
    def __init__(self, book: SegmentBook, timers: dict[str, float]) -> None:
        self.book = book
        self.reset(timers)

    def reset(self, timers: dict[str, float]) -> None:
        """Forget pending changes and timers; start from `timers` (the last checkpoint's)."""
        self.pending: list[Change] = []
        self.due: dict[str, float] = dict(timers)
        # per record, when each of its clocked segments could next change (unknown after a
        # restart: the first firing then re-checks every clocked segment)
        self.segment_due: dict[str, dict[str, float]] = {}
        self.heap: list[tuple[float, str]] = [(d, p) for p, d in timers.items()]
        heapq.heapify(self.heap)
        self.timer_updates: dict[str, float | None] = {}

    def on_event(self, p: Profile, ev: Event, signals: tuple[str, ...]) -> list[Change]:
        book = self.book
        changes = book.on_event(p, ev, signals, ev.ts)
        if changes:
            self.pending.extend(changes)
        if book.clocked:  # only the rules this event could change have new wake-ups
            self._update(p, ev.ts, [n for n in book.last_evaluated if book.compiled[n].clock])
        return changes

    def fire(self, until: float, get: Callable[[str], Profile | None],
             touched: Callable[[Profile], None]) -> list[Change]:
        """Fire every timer due at or before `until`, each at its own due time."""
        fired: list[Change] = []
        heap, due = self.heap, self.due
        while heap and heap[0][0] <= until:
            when, pid = heapq.heappop(heap)
            if due.get(pid) != when:
                continue  # superseded by a later schedule
            del due[pid]
            self.timer_updates[pid] = None
            p = get(pid)
            if p is None:
                self.segment_due.pop(pid, None)
                continue
            known = self.segment_due.get(pid)
            names = (list(self.book.clocked) if known is None
                     else [n for n, t in known.items() if t <= when])
            changes = self.book.evaluate_some(p, names, when)
            if changes:
                fired.extend(changes)
                touched(p)
            self._update(p, when, names)
        self.pending.extend(fired)
        return fired

    def reschedule(self, p: Profile, now: float) -> None:
        self._update(p, now, list(self.book.clocked))

    def _update(self, p: Profile, now: float, names: list[str]) -> None:
        """Recompute the wake-ups of these segments, then the record's timer (the earliest)."""
        pid = p.id
        book = self.book
        mine = self.segment_due.get(pid)
        if mine is None:
            if not names:
                return
            mine = {}
        windows = p.windows or {}
        members = p.segments
        compiled = book.compiled
        for name in names:
            comp = compiled.get(name)
            if comp is None:  # a segment that was removed
                mine.pop(name, None)
                continue
            t = comp.next_change(p, now, windows, name in members)
            if t is None:
                mine.pop(name, None)
            else:
                mine[name] = t
        if not mine:
            self.segment_due.pop(pid, None)
            if pid in self.due:
                del self.due[pid]
                self.timer_updates[pid] = None
            return
        self.segment_due[pid] = mine
        nxt = min(mine.values())
        if self.due.get(pid) != nxt:
            self._set(pid, nxt)

    def _set(self, pid: str, due: float) -> None:
        self.due[pid] = due
        self.timer_updates[pid] = due
        heapq.heappush(self.heap, (due, pid))

    def flush(self) -> tuple[list[SegmentChange], dict[str, float | None]]:
        changes = [SegmentChange(c.profile_id, c.segment, c.entered, c.ts) for c in self.pending]
        timers, self.timer_updates = self.timer_updates, {}
        self.pending = []
        return changes, timers
