"""Windowed event conditions: per record, the recent times of events that match each one.

`did viewed_product with category = "shoes" at least 3 times in 7d` needs the last three
matching times; a record keeps, per condition, only as many times as any rule asks about
(plus one), so the state stays small and the answer is exact."""

from __future__ import annotations

from ..events import Event
from ..profiles import Profile, new_times
from ._ast import Did
from ._compile import counter_key
from ._evaluate import MISSING, compare


class Counters:
    def __init__(self, conditions: set[Did]) -> None:
        self.keep: dict[str, int] = {}
        self.by_name: dict[str, list[tuple[str, Did]]] = {}
        for node in conditions:
            key = counter_key(node)
            self.keep[key] = max(self.keep.get(key, 1), node.count + 1)
            entries = self.by_name.setdefault(node.name, [])
            if all(k != key for k, _ in entries):
                entries.append((key, node))

    def update(self, p: Profile, ev: Event, signals: tuple[str, ...]) -> bool:
        """Record the event against every condition it matches; True if any did."""
        by_name = self.by_name
        if not by_name:
            return False
        matched = False
        entries = by_name.get(ev.action)
        if entries is not None:
            matched = self._record(p, ev, entries)
        for signal in signals:
            entries = by_name.get(signal)
            if entries is not None and self._record(p, ev, entries):
                matched = True
        return matched

    def _record(self, p: Profile, ev: Event, entries: list[tuple[str, Did]]) -> bool:
        matched = False
        windows = p.windows
        for key, node in entries:
            if node.where and not all(
                    compare(ev.properties.get(c.field, MISSING), c.op, c.value)
                    for c in node.where):
                continue
            if windows is None:
                windows = p.windows = {}
            times = windows.get(key)
            if times is None:
                times = windows[key] = new_times()
            times.append(ev.ts)
            over = len(times) - self.keep[key]
            if over == 1:
                del times[0]  # the usual case: one in, one out (no slice to build)
            elif over > 0:
                del times[:over]
            matched = True
        return matched
