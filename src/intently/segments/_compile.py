"""Rules compiled to closures, and what makes them change.

A compiled rule is a function of (record, now, windows) -> bool, about ten times faster than
walking the syntax tree. Its `triggers` say which events can change its answer (so the engine
re-evaluates only those rules), `clock` whether time alone can (a window that expires, a
`days_since_...` threshold), and `counters` the windowed event conditions it needs counted.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..events import Event
from ..profiles import ACTIVE_DAYS, AT_RISK_DAYS, DAY, NEW_DAYS, Profile
from ._ast import And, Compare, Did, Node, Not, Or
from ._evaluate import FIELDS, MISSING, PREFIXED, compare, field_value

Check = Callable[[Profile, float, "Windows"], bool]
Windows = dict[str, Any]  # per record: each counter's recent match times, by counter key

ANY_EVENT = "*"  # trigger: every event
TRAITS = "#traits"  # trigger: events that carry traits or consents


def carries_traits(ev: Event) -> bool:
    """Whether the event can change traits or consents (what rules on `TRAITS` wait for)."""
    return bool(ev.traits) or ev.type == "identify" or "consent" in ev.context
PURCHASE_FIELDS = frozenset({"orders", "revenue", "average_order"})
TRAIT_PREFIXES = frozenset({"traits", "consents"})
TIME_FIELDS = frozenset({"days_since_last_order", "days_since_last_seen",
                         "days_since_first_seen"})


Wakeups = Callable[[Profile, float, "Windows"], list[float]]


@dataclass(frozen=True)
class Field:
    """A field the engine adds to the rule language (`rfm.segment`, say): how to read it, which
    events can change it, and when time alone could."""

    getter: Callable[[Profile, float], Any]
    triggers: frozenset[str] = frozenset({ANY_EVENT})
    wakeups: Wakeups | None = None
    # the wake-ups are the moments the value turns (a cut point), not times to look again at
    # a value that drifts (a probability that decays): only then can they be checked ahead
    exact: bool = False


@dataclass
class Compiled:
    check: Check
    triggers: set[str] = field(default_factory=set)  # signals, ANY_EVENT or TRAITS
    clock: bool = False
    counters: set[Did] = field(default_factory=set)
    # (when, direction): time can only make the answer go False ("exit"), only True
    # ("enter"), or either ("both"); a member needs no wake-up that could only let it in
    wakeups: list[tuple[Wakeups, str]] = field(default_factory=list)
    # the rule's conjuncts (the rule itself when it is no `and`), each with the way time can
    # move it ("static": not at all) and its wake-ups
    parts: list[tuple[Check, str, list[tuple[Wakeups, str]]]] = field(default_factory=list)
    extra: dict[str, Field] = field(default_factory=dict)
    # worked out from `parts` once (`settle`): the conjuncts time cannot make true, and the
    # wake-ups that could let a member out or a non-member in
    gates: list[Check] = field(default_factory=list)
    exit_wakeups: list[Wakeups] = field(default_factory=list)
    entry_wakeups: list[Wakeups] = field(default_factory=list)
    polls: bool = False  # a field's wake-ups are times to look again (`Field.exact`)

    def settle(self) -> None:
        """A member can only leave: through a conjunct that time can make false. A non-member
        can only enter if every conjunct that time cannot make true already holds; then
        through the conjuncts that time can make true."""
        self.gates = [check for check, way, _ in self.parts if way in ("static", "exit")]
        for wanted, found in ((("exit", "both"), self.exit_wakeups),
                              (("enter", "both"), self.entry_wakeups)):
            found.clear()
            for _, way, wakeups in self.parts:
                if way != "static":
                    found.extend(wake for wake, atom_way in wakeups
                                 if atom_way in wanted or way == "both")

    def next_change(self, p: Profile, now: float, w: Windows, member: bool) -> float | None:
        """The earliest future moment at which time alone changes the answer, the record
        staying as it is: the wake-ups that could (the moments a conjunct turns) are tried in
        order, the rule checked at each (between two, nothing turns), so a record is woken only
        to change. Past `WAKEUPS_TRIED` that change nothing, the last: a wake-up that looks
        again from there."""
        if member:
            wakeups = self.exit_wakeups
        else:
            for check in self.gates:
                if not check(p, now, w):
                    return None  # time alone cannot let this record in
            wakeups = self.entry_wakeups
        times: list[float] = []
        for wake in wakeups:
            for t in wake(p, now, w):
                if t > now:
                    times.append(t)
        if not times:
            return None
        times.sort()
        if self.polls:  # the answer may drift between wake-ups: look at the first
            return times[0]
        check = self.check
        for tried, t in enumerate(times, 1):
            if check(p, t, w) != member or tried == WAKEUPS_TRIED:
                return t
        return None


WAKEUPS_TRIED = 8
"""Wake-ups of one rule checked ahead per look (a window condition has one per time it
holds): a bound on the work per event, past which a record is woken to look again."""


def counter_key(node: Did) -> str:
    """A windowed event condition's key in a record's `windows`."""
    from ._text import to_text

    return to_text(Did(node.name, ">=", 1, node.where, node.within_s))


def compile_rule(node: Node, extra: dict[str, Field] | None = None) -> Compiled:
    out = Compiled(check=lambda p, now, w: False, extra=extra or {})
    for item in node.items if isinstance(node, And) else (node,):
        before = len(out.wakeups)
        check = _compile(item, out, False)
        wakeups = out.wakeups[before:]
        ways = {way for _, way in wakeups}
        way = "static" if not ways else ways.pop() if len(ways) == 1 else "both"
        out.parts.append((check, way, wakeups))
    out.check = _all([check for check, _, _ in out.parts])
    out.settle()
    return out


def _all(checks: list[Check]) -> Check:
    """`and` of checks, unrolled for the usual two or three (a generator costs more)."""
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        a, b = checks
        return lambda p, now, w: a(p, now, w) and b(p, now, w)
    if len(checks) == 3:
        a, b, c = checks
        return lambda p, now, w: a(p, now, w) and b(p, now, w) and c(p, now, w)
    return lambda p, now, w: all(check(p, now, w) for check in checks)


def _any(checks: list[Check]) -> Check:
    if len(checks) == 2:
        a, b = checks
        return lambda p, now, w: a(p, now, w) or b(p, now, w)
    return lambda p, now, w: any(check(p, now, w) for check in checks)


def _way(falls: bool | None, negated: bool) -> str:
    """Which way time moves the whole rule, for an atom that time can only make False
    (`falls`), only True (not `falls`), or either (None), under `negated` Nots."""
    if falls is None:
        return "both"
    return "exit" if falls != negated else "enter"


def _compile(node: Node, out: Compiled, negated: bool) -> Check:
    if isinstance(node, Compare):
        return _compare(node, out, negated)
    if isinstance(node, Did):
        return _did(node, out, negated)
    if isinstance(node, Not):
        inner = _compile(node.item, out, not negated)
        return lambda p, now, w: not inner(p, now, w)
    parts = [_compile(i, out, negated) for i in node.items]
    if isinstance(node, And):
        return _all(parts)
    assert isinstance(node, Or)
    return _any(parts)


def _compare(node: Compare, out: Compiled, negated: bool) -> Check:
    field_name, op, wanted = node.field, node.op, node.value
    added = out.extra.get(field_name)
    if added is not None:
        out.triggers.update(added.triggers)
        if added.wakeups is not None:
            out.clock = True
            out.polls = out.polls or not added.exact
            out.wakeups.append((added.wakeups, "both"))
        read = added.getter
        return lambda p, now, w: compare(read(p, now), op, wanted)
    getter = FIELDS.get(field_name)
    head, _, rest = field_name.partition(".")
    if field_name in PURCHASE_FIELDS:
        out.triggers.add("purchased")
    elif head in TRAIT_PREFIXES:
        out.triggers.add(TRAITS)
    elif head == "signals" and rest:  # a signal's count moves with that signal only
        out.triggers.add(rest)
    elif field_name in TIME_FIELDS:
        out.clock = True
        out.triggers.add("purchased" if field_name == "days_since_last_order" else ANY_EVENT)
        if isinstance(wanted, int | float) and not isinstance(wanted, bool):
            anchor = {"days_since_last_order": "last_order", "days_since_last_seen": "last_seen",
                      "days_since_first_seen": "first_seen"}[field_name]
            offset = float(wanted) * 86400.0
            falls = {"<": True, "<=": True, ">": False, ">=": False}.get(op)  # days only grow
            out.wakeups.append((lambda p, now, w: [getattr(p, anchor) + offset + 1e-3]
                                if getattr(p, anchor) else [], _way(falls, negated)))
    else:
        out.triggers.add(ANY_EVENT)  # tags.* included: they read the whole record
    if getter is not None:
        numeric = _numeric(op, wanted)
        if numeric is not None:
            return lambda p, now, w: numeric(getter(p, now))
        return lambda p, now, w: compare(getter(p, now), op, wanted)
    if head == "tags" and rest:
        if rest == "lifecycle":  # moves with time: at 30, 60 and 120 days
            out.clock = True
            out.wakeups.append((lambda p, now, w: [
                p.first_order + NEW_DAYS * DAY + 1, p.last_order + ACTIVE_DAYS * DAY + 1,
                p.last_order + AT_RISK_DAYS * DAY + 1] if p.orders else [], "both"))
        return lambda p, now, w: compare(field_value(p, field_name, now), op, wanted)
    prefixed = PREFIXED.get(head)
    if prefixed is not None and rest:
        return lambda p, now, w: compare(prefixed(p, rest), op, wanted)
    return lambda p, now, w: compare(MISSING, op, wanted)


_ORDER = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def _numeric(op: str, wanted: Any) -> Callable[[Any], bool] | None:
    """A faster `compare` for a number against a number (what most record fields are)."""
    cmp = _ORDER.get(op)
    if cmp is None or wanted.__class__ not in (int, float):
        return None

    def check(value: Any) -> bool:
        cls = value.__class__
        return (cls is int or cls is float) and cmp(value, wanted)

    return check


def _did(node: Did, out: Compiled, negated: bool) -> Check:
    op, n = node.op, node.count
    if node.within_s is None and not node.where:  # the record's own counters answer
        out.triggers.add(node.name)
        name = node.name

        def total(p: Profile, now: float, w: Windows) -> bool:
            count = p.counts.get("s:" + name, 0) or p.counts.get("e:" + name, 0)
            return _holds(count, op, n)

        return total
    out.counters.add(node)
    out.triggers.add(node.name)
    key = counter_key(node)
    within = node.within_s
    if within is not None:
        out.clock = True
        # as times leave the window the count only drops: ">=" can only fall, "<=" only rise
        falls = True if op == ">=" else False if op == "<=" or n == 0 else None
        out.wakeups.append((lambda p, now, w: [t + within for t in (w.get(key) or ())],
                            _way(falls, negated)))

    def windowed(p: Profile, now: float, w: Windows) -> bool:
        times = w.get(key)
        if not times:
            return _holds(0, op, n)
        if within is None:
            return _holds(len(times), op, n)
        since = now - within
        return _holds(sum(1 for t in times if t > since), op, n)

    return windowed


def _holds(count: int, op: str, n: int) -> bool:
    return count >= n if op == ">=" else count <= n if op == "<=" else count == n
