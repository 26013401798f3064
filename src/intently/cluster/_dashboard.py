"""The dashboard against a cluster: a read-only engine over the union of the partitions
(`_union`), kept fresh by its worker thread, which the dashboard's routes read as they read an
embedded engine.

Every `refresh_s` the thread reads the records the partitions' owners wrote since the last
look, tells the live feed who moved, and takes the segments and scenarios the shared catalog
has. A partition's `profiles.seq` never goes back (the position of the checkpoint that wrote
the record); the records at the last position seen are read again, since a later checkpoint
with no new events writes more at the same position. Every `full_every` refreshes, and
whenever partitions were opened since (they join the view), it starts again from the tables
(records moved or erased leave the view). What it shows is as fresh as the owners'
checkpoints (`checkpoint_seconds`) plus `refresh_s`."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from ..config import Settings
from ..engine import Engine, EngineWorker
from ..profiles import Profile, decode_profile
from ..scenarios import Scenario
from ..segments import Segment
from ..store.postgres import split_url
from ._layout import partition_schema
from ._union import UnionStore

_log = logging.getLogger("intently.cluster")
T = TypeVar("T")


class DashboardWorker(EngineWorker):
    """An `EngineWorker` whose engine is read-only over the whole cluster: its idle moments
    refresh the records instead of firing timers (the owners fire them)."""

    def __init__(self, settings: Settings, *, refresh_s: float = 2.0, full_every: int = 30,
                 idle_s: float = 0.5) -> None:
        self.store = UnionStore(settings.db, settings.partitions)
        super().__init__(Engine(self.store, settings=settings, readonly=True), idle_s=idle_s)
        self.refresh_s = refresh_s
        self.full_every = full_every
        self._base = split_url(settings.db)[1]
        self._marks: dict[int, int] = {}  # partition -> the highest record seq read
        self._refreshes = 0
        self._last = 0.0
        self.on_refresh: list[Callable[[list[Profile]], None]] = []
        """Told the records that changed at each refresh (the live feed)."""
        self.refresh(self.engine)

    def call(self, fn: Callable[[Engine], T]) -> Future[T]:
        """`fn(engine)` on the worker thread, after a refresh if one is due (readers that
        keep the thread busy must not keep the view from moving on)."""
        def fresh(engine: Engine) -> T:
            self._background(engine)
            return fn(engine)

        return super().call(fresh)

    def _background(self, engine: Engine) -> None:
        if time.monotonic() - self._last >= self.refresh_s:
            try:
                self.refresh(engine)
            except Exception:
                self.background_errors += 1
                _log.exception("dashboard refresh failed; it tries again")

    def refresh(self, engine: Engine) -> list[Profile]:
        """Read the records changed since the last refresh (or all, every `full_every`
        refreshes, from the start again); returns them."""
        self._last = time.monotonic()
        full = self.store.remake_views() or self._refreshes % self.full_every == 0
        if full:
            engine.reload()
            self._marks = {}
        self._refreshes += 1
        state = engine.state
        per_part = max(100, state.capacity // max(1, len(self.store.partitions_found)))
        changed: list[str] = []
        for part in self.store.partitions_found:
            mark = self._marks.get(part, -1)
            rows = self.store._rows(
                f"SELECT id, seq FROM {partition_schema(self._base, part)}.profiles "
                "WHERE seq >= %s ORDER BY seq DESC LIMIT %s", (mark, per_part))
            if rows:
                self._marks[part] = max(mark, max(int(r[1]) for r in rows))
                changed += [str(r[0]) for r in rows]
        found: list[Profile] = []
        if changed:
            blobs = engine.store.load_profiles(changed)  # opened, where the cluster seals
            for pid, blob in blobs.items():
                profile = decode_profile(blob)
                state.profiles.pop(pid, None)
                state.profiles[pid] = profile  # most recently changed last
                found.append(profile)
            state.identities.clear()  # homes and merges move keys: ask the tables again
            state.complete = False
            state.evict()
        self._definitions(engine)
        if found or full:
            engine.recount()  # the events stored are counted again when next asked
        if full:  # a count of every partition's events: now and then
            engine.events_processed = engine.events_stored()
        for listener in self.on_refresh:
            listener(found)
        return found

    def _definitions(self, engine: Engine) -> None:
        """Segments and scenarios as the shared catalog has them now (the owners apply
        changes; this engine only shows them)."""
        saved = {name: Segment.from_json(json.loads(body))
                 for name, body in engine.store.load_segments().items()}
        book = engine.pipeline.segments
        for name, segment in saved.items():
            if book.segments.get(name) != segment:
                book.put(segment)
        for name in [n for n, seg in book.segments.items()
                     if not seg.builtin and n not in saved]:
            book.remove(name)
        scenarios = {name: Scenario.from_dict(json.loads(body))
                     for name, body in engine.store.load_scenarios().items()}
        plays = engine.scenario_definitions
        for name, scenario in scenarios.items():
            if plays.get(name) != scenario:
                engine._scenarios.book.put(scenario)
        for name in [n for n in plays if n not in scenarios]:
            engine._scenarios.book.remove(name)
