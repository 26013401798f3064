"""Segments as a service: add, replace and remove them, with every record brought up to date at
once (a backfill) and new windowed conditions counted from the log."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

from .._errors import NotFound
from ..events import from_log
from ..profiles import Profile
from ..segments import Change, Counters, Did, Segment, counter_key
from ._runner import WALK_PAGE, Runner


class SegmentService:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def put(self, segment: Segment) -> list[Change]:
        """Add or replace a segment, save it, and evaluate every record against it now."""
        runner = self.runner
        _writable(runner)
        runner.store.save_segment(segment.name, json.dumps(segment.to_json()).encode())
        book = runner.pipeline.segments
        counting = {counter_key(d) for c in book.compiled.values() for d in c.counters}
        book.put(segment)
        fresh = {d for d in book.compiled[segment.name].counters if counter_key(d) not in counting}
        if fresh:
            self._count_history(fresh)
        return self._backfill(lambda p, now: book.evaluate_one(p, segment.name, now))

    def remove(self, name: str) -> list[Change]:
        """Delete a segment: its members leave it now."""
        runner = self.runner
        _writable(runner)
        runner.store.save_segment(name, None)
        book = runner.pipeline.segments
        if not book.remove(name):
            raise NotFound(f"no segment {name!r}")
        return self._backfill(lambda p, now: book.leave(p, name, now))

    def _count_history(self, conditions: set[Did]) -> None:
        """Fill new windowed conditions from the log, so a segment added today already knows
        who added to the cart yesterday. (Derived signals, such as a return after a gap, are
        only counted from now on: the log keeps raw events.)"""
        runner = self.runner
        windows = [d.within_s for d in conditions]
        since = 0.0 if None in windows else runner.clock.now() - max(w or 0 for w in windows)
        counters = Counters(conditions)
        vocabulary = runner.pipeline.vocabulary
        # events are committed between pages: they count as they come (the book counts the
        # new conditions already), so the log is read up to where it ended when this began;
        # and from the events received in time to be filed in the window (an event is filed
        # at most the future tolerance after its receipt), not from the log's start
        ahead = runner.settings.future_tolerance_seconds
        received = since - ahead if since and math.isfinite(ahead) else None
        for rows in runner.store.events_since(since, WALK_PAGE, until=runner.last_seq,
                                              received_from=received):
            records = runner.records(row.record_id for row in rows)
            for row in rows:
                profile = records.get(row.record_id)
                if profile is None:
                    continue
                ev = from_log(row.payload, row.ts, row.received_at)  # as the replay reads it
                if counters.update(profile, ev, vocabulary.signals_for(ev)):
                    runner.state.adopt(profile)
            runner.let_events_through()

    def _backfill(self, apply: Callable[[Profile, float], list[Change]]) -> list[Change]:
        runner = self.runner
        clock = runner.clock
        changes: list[Change] = []
        # events are committed between pages (`Runner.between_pages`): each record is
        # evaluated at the time its page comes
        for profile in runner.all_profiles(let_through=True):
            now = clock.now()
            found = apply(profile, now)
            if found:
                changes.extend(found)
                runner.changed(profile, found, now)
                if len(changes) % 50_000 == 0:  # bounded memory on a large store
                    runner.checkpoint()
            elif runner.pipeline.reschedule(profile, now):
                runner.state.adopt(profile)
        runner.checkpoint()
        return changes


def _writable(runner: Runner) -> None:
    if runner.readonly:
        raise RuntimeError("this engine was opened read-only")
