"""The embedded engine's test surface, through a cluster: each event goes through a gateway
(which files its receive time with the test's clock), NATS and a worker that owns every
partition of a PostgreSQL schema; definitions go through the gateway's control messages;
reads and timers run on the worker's engines, on the worker's own loop (engine calls never
overlap). Every call returns once the worker has applied it, so a test written for the
embedded engine reads the same against a cluster.

What differs, by design: event time moves per partition (a later event of someone in
another partition does not fire this one's timers; the worker's clock does), and records
sit in the partition of their device."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

from conftest import HISTORY, T0, postgres_schema, running, wait_until
from intently import Engine, ManualClock, Profile
from intently._errors import NotFound
from intently.cluster import ClusterDefinitions, ClusterWorker, Gateway
from intently.config import Settings
from intently.events import as_event
from intently.scenarios import Scenario
from intently.segments import Change, Segment
from intently.store import JournalEntry, Member, MemoryStore, OutboxItem

WAIT_S = 30.0


class _Reads:
    """`engine.store`'s reads that the suites use, over every partition."""

    def __init__(self, cluster: ClusterEngine) -> None:
        self._cluster = cluster

    def segment_members(self, segment: str, limit: int = 1000, offset: int = 0
                        ) -> list[Member]:
        rows = self._cluster.on_worker(lambda engines: sorted(
            m for e in engines for m in e.store.segment_members(segment, 1_000_000)))
        return list(rows[offset:offset + limit])

    def outbox(self, limit: int = 100, scenario: str | None = None,
               profile_id: str | None = None) -> list[OutboxItem]:
        rows = self._cluster.on_worker(lambda engines: [
            m for e in engines for m in e.store.outbox(limit, scenario, profile_id)])
        return sorted(rows, key=lambda m: (m.due, m.id), reverse=True)[:limit]

    def journal(self, profile_id: str | None = None, scenario: str | None = None,
                limit: int = 100) -> list[JournalEntry]:
        rows = self._cluster.on_worker(lambda engines: [
            j for e in engines for j in e.store.journal(profile_id, scenario, limit)])
        return sorted(rows, key=lambda j: (j.ts, j.id), reverse=True)[:limit]


class ClusterEngine:
    def __init__(self, settings: Settings, clock: ManualClock) -> None:
        self.clock = clock
        self.settings = settings
        self.change_listeners: list[Callable[[list[Change]], None]] = []
        self._ticked: list[Change] = []
        self._stack = ExitStack()
        self.worker = ClusterWorker(settings, name="w-suite", clock=clock)
        self._loop = self._stack.enter_context(running(self.worker))
        self._gateway = Gateway(settings, "gw-suite", clock)
        self._run(self._gateway.start())
        self._stack.callback(lambda: self._run(self._gateway.close()))
        self._definitions = ClusterDefinitions(settings, self._gateway.control)
        wait_until(lambda: len(self.worker.owned) == settings.partitions, WAIT_S,
                   "the worker did not take every partition")
        self.on_worker(lambda engines: [e.change_listeners.append(self._changed)
                                        for e in engines])
        self.store = _Reads(self)

    # -- plumbing
    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(WAIT_S)

    def on_worker(self, fn: Callable[[list[Engine]], Any]) -> Any:
        """`fn(the partitions' engines)`, on the worker's loop, between its commits."""
        async def call() -> Any:
            return fn([own.engine for own in self.worker.owned.values()])
        return self._run(call())

    def _changed(self, changes: list[Change]) -> None:
        self._ticked.extend(changes)
        for listener in self.change_listeners:
            listener(changes)

    # -- the engine's surface
    def process(self, event: dict[str, Any]) -> None:
        self.process_many([event])

    def process_many(self, events: Iterable[dict[str, Any]]) -> None:
        filed = [as_event(ev) for ev in events]
        before = self.worker.applied + self.worker.refused
        result = self._run(self._gateway.submit(filed))
        wait_until(lambda: self.worker.applied + self.worker.refused
                   >= before + result.accepted, WAIT_S, "the worker fell short")
        self._ticked.clear()

    def tick(self, now: float | None = None) -> list[Change]:
        """Fire the timers due (the worker also fires them by itself as its clock moves):
        the segment changes since the last call."""
        self.on_worker(lambda engines: [e.tick(now) for e in engines])
        fired, self._ticked = self._ticked, []
        return fired

    def checkpoint(self) -> None:
        self.on_worker(lambda engines: [e.checkpoint() for e in engines])

    def profile(self, identifier: str) -> Profile:
        found = self.on_worker(lambda engines: next(
            (p for e in engines if (p := e.find(identifier)) is not None), None))
        if found is None:
            raise NotFound(f"no customer {identifier!r}")
        return found  # type: ignore[no-any-return]

    def put_segment(self, segment: Segment) -> list[Change]:
        return self._define(segment.name, lambda: self._definitions.put_segment(
            segment, "test"), lambda engines: all(
                e.segment_definitions.get(segment.name) == segment for e in engines))

    def remove_segment(self, name: str) -> list[Change]:
        return self._define(name, lambda: self._definitions.remove_segment(name, "test"),
                            lambda engines: all(name not in e.segment_definitions
                                                for e in engines))

    def put_scenario(self, scenario: Scenario) -> None:
        self._define("", lambda: self._definitions.put_scenario(scenario, "test"),
                     lambda engines: all(scenario.name in e.scenario_definitions
                                         for e in engines))

    def _define(self, name: str, send: Callable[[], Any],
                applied: Callable[[list[Engine]], bool]) -> list[Change]:
        """Send a change, wait until every partition applied it, and say who entered or
        left the segment `name` (as the embedded engine's return value does)."""
        before = self._members_of(name)
        self._run(send())
        wait_until(lambda: self.on_worker(applied), WAIT_S, "a partition did not apply it")
        after = self._members_of(name)
        now = self.clock.now()
        return ([Change(pid, name, True, now) for pid in sorted(after - before)]
                + [Change(pid, name, False, now) for pid in sorted(before - after)])

    def _members_of(self, name: str) -> set[str]:
        return set(self.on_worker(lambda engines: [
            p.id for e in engines for p in e.all_profiles() if name in p.segments]))

    def close(self) -> None:
        self._stack.close()


MODES = ["embedded", pytest.param("cluster", marks=pytest.mark.integration)]
"""The parameters of a fixture that runs a test on the embedded engine and through a
cluster."""
Make = Callable[[ManualClock | None, Settings | None], Any]


@contextmanager
def engines(request: pytest.FixtureRequest) -> Iterator[Make]:
    """`make(clock, settings)`: a new engine in the mode `request.param` names (embedded: on
    memory; cluster: a `ClusterEngine` on a schema and a NATS server of the test's own, one
    per test), closed at the end. Settings default to `HISTORY`'s."""
    if request.param == "embedded":
        yield lambda clock, settings: Engine(MemoryStore(), clock=clock or ManualClock(T0),
                                             settings=settings or HISTORY)
        return
    nats = request.getfixturevalue("nats_server")
    made: list[ClusterEngine] = []
    with postgres_schema() as url:
        def make(clock: ManualClock | None, settings: Settings | None) -> ClusterEngine:
            if made:
                raise RuntimeError("one cluster engine per test")
            made.append(ClusterEngine(dataclasses.replace(
                settings or HISTORY, db=url, stream=nats.url, partitions=4, lease_seconds=3.0,
                stream_ack_seconds=2.0), clock or ManualClock(T0)))
            return made[0]
        try:
            yield make
        finally:
            for engine in made:
                engine.close()
