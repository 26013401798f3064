"""Live segments: which customers are in which segment, kept current on every event and when
time alone changes a rule's answer (a window that expires, a `days_since_...` threshold).

Entering and leaving are `Change`s with the time they happened; the engine logs them, so they
can trigger scenarios and draw segment sizes over time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from sys import intern
from typing import Any

from ..events import Event
from ..profiles import Profile
from ._ast import Node
from ._compile import ANY_EVENT, TRAITS, Compiled, Field, carries_traits, compile_rule
from ._counters import Counters
from ._json import from_json, to_json
from ._text import parse, to_text

_NO_WINDOWS: dict[str, Any] = {}  # read only: a record with no windowed conditions yet
_PICKED_KEPT = 4096  # kinds of event whose rules to re-evaluate are remembered


@dataclass
class Segment:
    name: str
    rule: Node
    description: str = ""
    builtin: bool = False

    @classmethod
    def from_text(cls, name: str, text: str, description: str = "", builtin: bool = False
                  ) -> Segment:
        return cls(name, parse(text), description, builtin)

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "text": to_text(self.rule), "rule": to_json(self.rule),
                "description": self.description, "builtin": self.builtin}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Segment:
        rule = from_json(data["rule"]) if "rule" in data else parse(str(data["text"]))
        return cls(str(data["name"]), rule, str(data.get("description", "")),
                   bool(data.get("builtin", False)))


class Change:
    """A record entering or leaving a segment. A plain class, not a dataclass: the hot path makes
    one per entry and exit, and a compiled dataclass is still built through a Python-level
    `__init__`."""

    def __init__(self, profile_id: str, segment: str, entered: bool, ts: float) -> None:
        self.profile_id = profile_id
        self.segment = segment
        self.entered = entered
        self.ts = ts

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Change) and (
            self.profile_id, self.segment, self.entered, self.ts) == (
            other.profile_id, other.segment, other.entered, other.ts)

    def __hash__(self) -> int:
        return hash((self.profile_id, self.segment, self.entered, self.ts))

    def __repr__(self) -> str:
        return (f"Change(profile_id={self.profile_id!r}, segment={self.segment!r}, "
                f"entered={self.entered!r}, ts={self.ts!r})")


@dataclass
class SegmentBook:
    """Compiled segments and the indexes that decide which to re-evaluate for an event."""

    segments: dict[str, Segment] = field(default_factory=dict)
    fields: dict[str, Field] = field(default_factory=dict)  # added by the engine (rfm.*)

    def __post_init__(self) -> None:
        self._rebuild()

    def put(self, segment: Segment) -> None:
        self.segments[intern(segment.name)] = segment
        self._rebuild()

    def remove(self, name: str) -> bool:
        found = self.segments.pop(name, None) is not None
        self._rebuild()
        return found

    def _rebuild(self) -> None:
        self.compiled: dict[str, Compiled] = {
            name: compile_rule(seg.rule, self.fields) for name, seg in self.segments.items()}
        self.by_trigger: dict[str, list[str]] = {}
        for name, comp in self.compiled.items():
            for trigger in comp.triggers:
                self.by_trigger.setdefault(trigger, []).append(name)
        self.rank = {name: i for i, name in enumerate(self.compiled)}
        self.everything = list(self.compiled)
        rank = self.rank
        self.every_event = sorted(self.by_trigger.get(ANY_EVENT, ()), key=rank.__getitem__)
        self.last_evaluated: list[str] = []
        self.clocked = tuple(n for n, c in self.compiled.items() if c.clock)
        # the rules an event could change that time could change too (their wake-ups move)
        self.last_clocked: list[str] = []
        self._clocked = frozenset(self.clocked)
        self._every_clocked = [n for n in self.every_event if n in self._clocked]
        self.counters = Counters({d for c in self.compiled.values() for d in c.counters})
        self._picked: dict[tuple[str, tuple[str, ...], bool], tuple[list[str], list[str]]] = {}

    # -- evaluation
    def on_event(self, p: Profile, ev: Event, signals: tuple[str, ...], now: float,
                 merged: bool = False) -> list[Change]:
        """Re-evaluate the segments this event can affect (every one when it merged another
        record into `p`: any field may have moved); return who entered or left."""
        if not self.compiled:
            return []
        self.counters.update(p, ev, signals)
        if merged:
            self.last_evaluated = self.everything
            self.last_clocked = list(self.clocked)
            return self._apply(p, self.everything, now)
        key = (ev.action, signals, carries_traits(ev))
        picked = self._picked.get(key)
        if picked is None:
            picked = self._pick(*key)
        self.last_evaluated, self.last_clocked = picked
        if not self.last_evaluated:
            return []
        return self._apply(p, self.last_evaluated, now)

    def _pick(self, action: str, signals: tuple[str, ...], traits: bool
               ) -> tuple[list[str], list[str]]:
        """The rules an event with this action, these signals and (`traits`) traits or consents
        can change, and those of them time can change too; remembered per kind of event (a
        shop has a few dozen)."""
        by_trigger = self.by_trigger
        extra: list[str] = [*by_trigger.get(action, ())]
        for signal in signals:
            extra += by_trigger.get(signal, ())
        if traits:
            extra += by_trigger.get(TRAITS, ())
        if not extra:  # the usual event: only the rules that read every event
            picked = (self.every_event, self._every_clocked)
        else:
            rank = self.rank  # a fixed order, so entries and exits replay identically
            names = sorted({*self.every_event, *extra}, key=rank.__getitem__)
            clocked = self._clocked
            picked = (names, [n for n in names if n in clocked])
        if len(self._picked) < _PICKED_KEPT:  # bounded: actions and signals come from clients
            self._picked[(action, signals, traits)] = picked
        return picked

    def evaluate_one(self, p: Profile, name: str, now: float) -> list[Change]:
        return self._apply(p, (name,), now)

    def evaluate_some(self, p: Profile, names: Iterable[str], now: float) -> list[Change]:
        rank = self.rank
        return self._apply(p, sorted((n for n in names if n in rank), key=rank.__getitem__),
                           now)

    def leave(self, p: Profile, name: str, now: float) -> list[Change]:
        """`p` leaves a segment that no longer exists."""
        if name not in p.segments:
            return []
        p.segments = tuple(s for s in p.segments if s != name)
        return [Change(p.id, name, False, now)]

    def _apply(self, p: Profile, names: Iterable[str], now: float) -> list[Change]:
        windows = p.windows
        if windows is None:
            windows = _NO_WINDOWS
        members = p.segments
        compiled = self.compiled
        changes: list[Change] = []
        for name in names:
            inside = compiled[name].check.holds(p, now, windows)
            if inside != (name in members):
                changes.append(Change(p.id, name, inside, now))
        if changes:
            current = set(members)
            for c in changes:
                if c.entered:
                    current.add(c.segment)
                else:
                    current.discard(c.segment)
            p.segments = tuple(sorted(current))
        return changes
