"""One queue of wake-ups for segments and scenarios: per record, the earliest moment when time
alone could change it (a windowed segment's answer expires, a scenario's wait ends).

Timers run on event time: before an event is applied, every timer due at or before its time
fires, so a replay of the log gives the same entries, exits, journeys and message ids as the
live run; when no events come, the worker ticks with the clock. The queue is checkpointed in
the store's timer table, one row per record (record id -> when)."""

from __future__ import annotations

import heapq

LEGACY_SCENARIO = "sc:"  # the key of scenario timers before segments and scenarios shared one


class Timers:
    def __init__(self, stored: dict[str, float] | None = None) -> None:
        self.reset(stored or {})

    def reset(self, stored: dict[str, float]) -> None:
        """Start from the last checkpoint's timers, forgetting anything since."""
        due: dict[str, float] = {}
        updates: dict[str, float | None] = {}
        for key, when in stored.items():
            pid = key
            if key.startswith(LEGACY_SCENARIO):  # written before one queue: rewrite it
                pid = key[len(LEGACY_SCENARIO):]
                updates[key] = None
            seen = due.get(pid)
            if seen is None or when < seen:
                due[pid] = when
        for key in [k for k in updates if k.startswith(LEGACY_SCENARIO)]:
            pid = key[len(LEGACY_SCENARIO):]
            updates[pid] = due[pid]
        self.due = due
        self.updates = updates  # what the next checkpoint writes (None: delete)
        # The heap holds at most one live entry per record, at or before its due time: a
        # timer pushed later (every event of a customer moves an inactivity trigger) only
        # updates `due`; the early entry, when it pops, goes back in at the real time. So
        # the heap stays about one entry per record instead of one per event.
        self.queued: dict[str, float] = dict(due)  # the live heap entry's time, per record
        self.heap: list[tuple[float, str]] = [(d, p) for p, d in due.items()]
        heapq.heapify(self.heap)
        # per record, when each of its clocked segments could next change; not stored (unknown
        # after a restart: the record's next firing then re-checks every clocked segment)
        self.segments: dict[str, dict[str, float]] = {}

    def due_by(self, until: float) -> bool:
        """Whether a timer could be due at or before `until` (a cheap check per event)."""
        heap = self.heap
        return bool(heap) and heap[0][0] <= until

    def due_until(self, until: float) -> list[str]:
        """The records whose timers could fire by `until` (to read them ahead, in one go),
        without taking them off the queue: a walk of the heap's entries at or before
        `until`, O(those entries)."""
        heap = self.heap
        found: list[str] = []
        stack = [0] if heap and heap[0][0] <= until else []
        n = len(heap)
        while stack:
            i = stack.pop()
            found.append(heap[i][1])
            for child in (2 * i + 1, 2 * i + 2):
                if child < n and heap[child][0] <= until:
                    stack.append(child)
        return found

    def pop(self, until: float) -> tuple[float, str] | None:
        """The next record whose timer is due at or before `until`, and its due time; its
        timer is removed (set it again to wake it later)."""
        heap, due, queued = self.heap, self.due, self.queued
        while heap and heap[0][0] <= until:
            t, pid = heapq.heappop(heap)
            if queued.get(pid) != t:
                continue  # superseded by an earlier entry
            del queued[pid]
            when = due.get(pid)
            if when is None:
                continue  # cancelled
            if when > t:  # moved later since this entry went in
                queued[pid] = when
                heapq.heappush(heap, (when, pid))
                continue
            del due[pid]
            self.updates[pid] = None
            return when, pid
        return None

    def set(self, pid: str, when: float | None) -> None:
        """Wake record `pid` at `when` (None: never)."""
        due = self.due
        if when is None:
            if pid in due:
                del due[pid]
                self.updates[pid] = None
            return
        if due.get(pid) != when:
            due[pid] = when
            self.updates[pid] = when
            q = self.queued.get(pid)
            if q is None or when < q:
                self.queued[pid] = when
                heapq.heappush(self.heap, (when, pid))

    def take_updates(self) -> dict[str, float | None]:
        """What changed since the last call, for the checkpoint."""
        updates, self.updates = self.updates, {}
        return updates
