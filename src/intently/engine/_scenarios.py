"""Scenarios inside the engine: each customer's next scenario timer, on event time.

Like segment timers, they fire before any event at or after their due time is applied, so a
replay of the log gives the same journeys and the same message ids as the live run; when no
events come, the worker ticks with the clock. Timers are checkpointed in the store's timer
table under the key `sc:<record id>`."""

from __future__ import annotations

import heapq
import json
import secrets
from collections.abc import Callable

from ..events import Event
from ..profiles import Profile
from ..scenarios import Renderer, Scenario, ScenarioBook, Tracker
from ..segments import Change
from ..store import Store

PREFIX = "sc:"


def load_book(store: Store, base_url: str, message_cap_per_day: int,
              readonly: bool = False,
              recommend: Callable[[list[str], Profile], list[str]] | None = None
              ) -> ScenarioBook:
    secret = store.get_meta("secret")
    if secret is None:
        secret = secrets.token_hex(32)
        if not readonly:
            store.set_meta("secret", secret)
    scenarios = [Scenario.from_dict(json.loads(body)) for body in store.load_scenarios().values()]
    return ScenarioBook(scenarios, Renderer(Tracker(base_url.rstrip("/"), secret.encode())),
                        message_cap_per_day=message_cap_per_day, recommend=recommend)


class ScenarioRuntime:
    def __init__(self, book: ScenarioBook, timers: dict[str, float]) -> None:
        self.book = book
        self._scenarios = book.scenarios  # the same dict: `active` is asked on every event
        self.reset(timers)

    def reset(self, timers: dict[str, float]) -> None:
        self.book.effects.take()
        self.due = {k[len(PREFIX):]: d for k, d in timers.items() if k.startswith(PREFIX)}
        self.heap = [(d, p) for p, d in self.due.items()]
        heapq.heapify(self.heap)
        self.timer_updates: dict[str, float | None] = {}

    @property
    def active(self) -> bool:
        return bool(self._scenarios)

    def on_event(self, p: Profile, ev: Event, signals: tuple[str, ...], changes: list[Change],
                 intent_before: float, cluster_before: str | None) -> None:
        self.book.on_event(p, ev, signals, changes, intent_before, cluster_before)
        if p.sc is not None:
            self.schedule(p)

    def fire(self, until: float, get: Callable[[str], Profile | None],
             touched: Callable[[Profile], None]) -> None:
        heap, due = self.heap, self.due
        while heap and heap[0][0] <= until:
            when, pid = heapq.heappop(heap)
            if due.get(pid) != when:
                continue
            del due[pid]
            self.timer_updates[PREFIX + pid] = None
            p = get(pid)
            if p is None:
                continue
            self.book.wake(p, when)
            touched(p)
            self.schedule(p)

    def schedule(self, p: Profile) -> None:
        nxt = self.book.next_due(p)
        pid = p.id
        if nxt is None:
            if pid in self.due:
                del self.due[pid]
                self.timer_updates[PREFIX + pid] = None
            return
        if self.due.get(pid) != nxt:
            self.due[pid] = nxt
            self.timer_updates[PREFIX + pid] = nxt
            heapq.heappush(self.heap, (nxt, pid))

    def flush_timers(self) -> dict[str, float | None]:
        updates, self.timer_updates = self.timer_updates, {}
        return updates
