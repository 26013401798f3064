"""Windowed event conditions: per record, the recent times of events that match each one.

`did viewed_product with category = "shoes" at least 3 times in 7d` needs the last three
matching times; a record keeps, per condition, only as many times as any rule asks about
(plus one), so the state stays small and the answer is exact."""

from __future__ import annotations

from ..events import Event
from ..profiles import Profile, Times
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
        if ev.action not in by_name and not any(s in by_name for s in signals):
            return False
        for name in (ev.action, *signals):
            entries = by_name.get(name)
            if not entries:
                continue
            for key, node in entries:
                if node.where and not all(
                        compare(ev.properties.get(c.field, MISSING), c.op, c.value)
                        for c in node.where):
                    continue
                if p.windows is None:
                    p.windows = {}
                times = p.windows.get(key)
                if times is None:
                    times = p.windows[key] = Times()
                times.append(ev.ts)
                over = len(times) - self.keep[key]
                if over > 0:
                    del times[:over]
                matched = True
        return matched
