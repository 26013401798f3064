"""The live hub: what the dashboard's feed needs from the engine thread.

An engine listener (run on the engine thread after each group commit) notes which customers
moved and keeps each one's recent purchase probabilities, so the feed can draw a trajectory.
Each open feed (a server-sent-events stream) has its own set of customers that moved since its
last update; the stream sends them at most a few times a second."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from typing import Any

from ..engine import Engine, Processed
from ..profiles import Profile

POINTS = 24  # probabilities kept per customer
CUSTOMERS = 20_000  # customers with a trajectory in memory (least recently moved go first)


class LiveHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.trajectories: OrderedDict[str, deque[tuple[float, float, str]]] = OrderedDict()
        self._subscribers: dict[int, set[str]] = {}
        self._next = 0
        self.listening = False
        self.events = 0
        self.started = time.monotonic()

    def attach(self, engine: Engine) -> None:
        """Start listening (once); called on the first dashboard request."""
        with self._lock:
            if self.listening:
                return
            self.listening = True
        engine.listeners.append(self._on_processed)

    def _on_processed(self, done: list[Processed]) -> None:
        with self._lock:
            traj = self.trajectories
            moved = set()
            for item in done:
                pid = item.profile.id
                points = traj.get(pid)
                if points is None:
                    points = traj[pid] = deque(maxlen=POINTS)
                    if len(traj) > CUSTOMERS:
                        traj.popitem(last=False)
                else:
                    traj.move_to_end(pid)
                if points and points[-1][0] < item.journey_start:
                    points.clear()  # a new journey starts a new trajectory
                points.append((item.event.ts, round(item.intent, 4),
                               item.signals[0] if item.signals else (item.event.event or "")))
                moved.add(pid)
            self.events += len(done)
            for pending in self._subscribers.values():
                pending |= moved

    def refreshed(self, profiles: list[Profile]) -> None:
        """Records read again from a cluster's tables (the dashboard against a cluster): one
        point each, where its last event moved it, for the feed."""
        with self._lock:
            traj = self.trajectories
            for p in profiles:
                points = traj.get(p.id)
                if points is None:
                    points = traj[p.id] = deque(maxlen=POINTS)
                    if len(traj) > CUSTOMERS:
                        traj.popitem(last=False)
                else:
                    traj.move_to_end(p.id)
                if points and points[-1][0] < p.journey_start:
                    points.clear()
                if not points or points[-1][0] < p.last_seen:
                    points.append((p.last_seen, round(p.intent, 4),
                                   p.chain[-1] if p.chain else ""))
            moved = {p.id for p in profiles}
            for pending in self._subscribers.values():
                pending |= moved

    def subscribe(self) -> int:
        with self._lock:
            self._next += 1
            self._subscribers[self._next] = set()
            return self._next

    def unsubscribe(self, token: int) -> None:
        with self._lock:
            self._subscribers.pop(token, None)

    def take(self, token: int) -> set[str]:
        with self._lock:
            moved = self._subscribers.get(token, set())
            self._subscribers[token] = set()
            return moved

    def forget(self, record_ids: list[str]) -> None:
        """Drop erased records' trajectories and pending moves."""
        with self._lock:
            for pid in record_ids:
                self.trajectories.pop(pid, None)
                for pending in self._subscribers.values():
                    pending.discard(pid)

    def trajectory(self, pid: str) -> list[dict[str, Any]]:
        with self._lock:
            points = list(self.trajectories.get(pid, ()))
        return [{"ts": t, "intent": p, "signal": s} for t, p, s in points]
