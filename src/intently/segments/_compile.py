"""Rules compiled to small objects, and what makes them change.

A compiled rule (`Compiled`) answers through its `check`, a `Check`: `holds(record, now,
windows) -> bool`, about ten times faster than walking the syntax tree. Checks are native
classes with one method rather than closures: built with mypyc, one check calls the next
directly (a closure is called through Python's call protocol, which costs more than most
conditions' own work). The rule's `triggers` say which events can change its answer (so the
engine re-evaluates only those rules), `clock` whether time alone can (a window that expires, a
`days_since_...` threshold), and `counters` the windowed event conditions it needs counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..events import Event
from ..profiles import ACTIVE_DAYS, AT_RISK_DAYS, DAY, NEW_DAYS, Profile, Times
from ._ast import And, Compare, Did, Node, Not, Or
from ._evaluate import FIELDS, MISSING, PREFIXED, compare, field_value

Windows = dict[str, Times]  # per record: each counter's recent match times, by counter key
Wakeups = Callable[[Profile, float, Windows], list[float]]  # a `Field`'s wake-ups

ANY_EVENT = "*"  # trigger: every event
TRAITS = "#traits"  # trigger: events that carry traits or consents


def carries_traits(ev: Event) -> bool:
    """Whether the event can change traits or consents (what rules on `TRAITS` wait for)."""
    return bool(ev.traits) or ev.type == "identify" or "consent" in ev.context


PURCHASE_FIELDS = frozenset({"orders", "revenue", "average_order"})
TRAIT_PREFIXES = frozenset({"traits", "consents"})
TIME_FIELDS = frozenset({"days_since_last_order", "days_since_last_seen",
                         "days_since_first_seen"})


class Check:
    """A compiled rule, or a part of one: whether it holds for a record at `now`."""

    def holds(self, p: Profile, now: float, w: Windows) -> bool:
        raise NotImplementedError

    def __call__(self, p: Profile, now: float, w: Windows) -> bool:
        return self.holds(p, now, w)


class Wakeup:
    """The moments at which a part of a rule could turn, for a record as it is."""

    def times(self, p: Profile, now: float, w: Windows) -> list[float]:
        raise NotImplementedError


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


class _Const(Check):
    def __init__(self, answer: bool) -> None:
        self.answer = answer

    def holds(self, p: Profile, now: float, w: Windows) -> bool:
        return self.answer


@dataclass
class Compiled:
    check: Check = field(default_factory=lambda: _Const(False))
    triggers: set[str] = field(default_factory=set)  # signals, ANY_EVENT or TRAITS
    clock: bool = False
    counters: set[Did] = field(default_factory=set)
    # (when, direction): time can only make the answer go False ("exit"), only True
    # ("enter"), or either ("both"); a member needs no wake-up that could only let it in
    wakeups: list[tuple[Wakeup, str]] = field(default_factory=list)
    # the rule's conjuncts (the rule itself when it is no `and`), each with the way time can
    # move it ("static": not at all) and its wake-ups
    parts: list[tuple[Check, str, list[tuple[Wakeup, str]]]] = field(default_factory=list)
    extra: dict[str, Field] = field(default_factory=dict)
    # worked out from `parts` once (`settle`): the conjuncts time cannot make true, and the
    # wake-ups that could let a member out or a non-member in
    gates: list[Check] = field(default_factory=list)
    exit_wakeups: list[Wakeup] = field(default_factory=list)
    entry_wakeups: list[Wakeup] = field(default_factory=list)
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
            for gate in self.gates:
                if not gate.holds(p, now, w):
                    return None  # time alone cannot let this record in
            wakeups = self.entry_wakeups
        times: list[float] = []
        for wake in wakeups:
            for t in wake.times(p, now, w):
                if t > now:
                    times.append(t)
        if not times:
            return None
        if len(times) > 1:
            times.sort()
        if self.polls:  # the answer may drift between wake-ups: look at the first
            return times[0]
        check = self.check
        for tried, t in enumerate(times, 1):
            if check.holds(p, t, w) != member or tried == WAKEUPS_TRIED:
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
    out = Compiled(extra=extra or {})
    for item in node.items if isinstance(node, And) else (node,):
        before = len(out.wakeups)
        check = _compile(item, out, False)
        wakeups = out.wakeups[before:]
        ways = {way for _, way in wakeups}
        way = "static" if not ways else ways.pop() if len(ways) == 1 else "both"
        out.parts.append((check, way, wakeups))
    checks = [check for check, _, _ in out.parts]
    out.check = checks[0] if len(checks) == 1 else _All(checks)
    out.settle()
    return out


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
        return _Not(_compile(node.item, out, not negated))
    parts = [_compile(i, out, negated) for i in node.items]
    if isinstance(node, And):
        return _All(parts)
    assert isinstance(node, Or)
    return _Any(parts)


class _All(Check):
    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks

    def holds(self, p: Profile, now: float, w: Windows) -> bool:
        return all(check.holds(p, now, w) for check in self.checks)  # mypyc: a plain loop


class _Any(Check):
    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks

    def holds(self, p: Profile, now: float, w: Windows) -> bool:
        return any(check.holds(p, now, w) for check in self.checks)


class _Not(Check):
    def __init__(self, item: Check) -> None:
        self.item = item

    def holds(self, p: Profile, now: float, w: Windows) -> bool:
        return not self.item.holds(p, now, w)


# -- comparisons

# the record's number fields read without a look-up (what most rules compare), and the
# comparisons between numbers
_NUMBERS = {"orders": 0, "revenue": 1, "events": 2, "sessions": 3, "intent": 4,
            "cart_value": 5, "average_order": 6, "days_since_last_order": 7,
            "days_since_last_seen": 8, "days_since_first_seen": 9}
_OPS = {">": 0, ">=": 1, "<": 2, "<=": 3, "=": 4, "!=": 5}


def _since(p: Profile, code: int) -> float:
    """The moment a `days_since_...` field (`_NUMBERS` code 7, 8 or 9) counts from (0: none)."""
    return p.last_order if code == 7 else p.last_seen if code == 8 else p.first_seen


class _Number(Check):
    """A number field against a number: `orders >= 2`, `days_since_last_seen <= 1`. A
    `days_since_...` with nothing to count from is missing: false, except for `!=`."""

    def __init__(self, field_name: str, op: str, wanted: float) -> None:
        self.code = _NUMBERS[field_name]
        self.op = _OPS[op]
        self.wanted = wanted

    def holds(self, p: Profile, now: float, w: Windows) -> bool:
        code = self.code
        if code == 0:
            value = float(p.orders)
        elif code == 1:
            value = p.revenue
        elif code == 2:
            value = float(p.events)
        elif code == 3:
            value = float(p.sessions)
        elif code == 4:
            value = p.intent
        elif code == 5:
            value = p.cart_value
        elif code == 6:
            value = p.revenue / p.orders if p.orders else 0.0
        else:
            since = _since(p, code)
            if not since:
                return self.op == 5
            value = (now - since) / 86400.0
        op, wanted = self.op, self.wanted
        if op == 0:
            return value > wanted
        if op == 1:
            return value >= wanted
        if op == 2:
            return value < wanted
        if op == 3:
            return value <= wanted
        if op == 4:
            return value == wanted
        return value != wanted


class _Compare(Check):
    """A field read by a function (the engine's fields, the record's others) against a value."""

    def __init__(self, read: Callable[[Profile, float], Any], op: str, wanted: Any) -> None:
        self.read = read
        self.op = op
        self.wanted = wanted

    def holds(self, p: Profile, now: float, w: Windows) -> bool:
        return compare(self.read(p, now), self.op, self.wanted)


class _Keyed(Check):
    """`traits.<name>`, `consents.<channel>`, `categories.<name>`, `signals.<name>`."""

    def __init__(self, read: Callable[[Profile, str], Any], key: str, op: str, wanted: Any
                 ) -> None:
        self.read = read
        self.key = key
        self.op = op
        self.wanted = wanted

    def holds(self, p: Profile, now: float, w: Windows) -> bool:
        return compare(self.read(p, self.key), self.op, self.wanted)


class _Tag(Check):
    def __init__(self, field_name: str, op: str, wanted: Any) -> None:
        self.field_name = field_name
        self.op = op
        self.wanted = wanted

    def holds(self, p: Profile, now: float, w: Windows) -> bool:
        return compare(field_value(p, self.field_name, now), self.op, self.wanted)


def _compare(node: Compare, out: Compiled, negated: bool) -> Check:
    field_name, op, wanted = node.field, node.op, node.value
    added = out.extra.get(field_name)
    if added is not None:
        out.triggers.update(added.triggers)
        if added.wakeups is not None:
            out.clock = True
            out.polls = out.polls or not added.exact
            out.wakeups.append((_FieldWakeup(added.wakeups), "both"))
        return _Compare(added.getter, op, wanted)
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
            falls = {"<": True, "<=": True, ">": False, ">=": False}.get(op)  # days only grow
            out.wakeups.append((_DaysWakeup(_NUMBERS[field_name], float(wanted) * 86400.0),
                                _way(falls, negated)))
    else:
        out.triggers.add(ANY_EVENT)  # tags.* included: they read the whole record
    if getter is not None:
        if (field_name in _NUMBERS and op in _OPS and isinstance(wanted, int | float)
                and not isinstance(wanted, bool)):
            return _Number(field_name, op, float(wanted))
        return _Compare(getter, op, wanted)
    if head == "tags" and rest:
        if rest == "lifecycle":  # moves with time: at 30, 60 and 120 days
            out.clock = True
            out.wakeups.append((_LifecycleWakeup(), "both"))
        return _Tag(field_name, op, wanted)
    prefixed = PREFIXED.get(head)
    if prefixed is not None and rest:
        return _Keyed(prefixed, rest, op, wanted)
    return _Const(compare(MISSING, op, wanted))


# -- event conditions

class _Total(Check):
    """`did <name>` (a count, no window, no property filter): the record's own counters."""

    def __init__(self, name: str, op: str, n: int) -> None:
        self.signal = "s:" + name
        self.event = "e:" + name
        self.op = op
        self.n = n

    def holds(self, p: Profile, now: float, w: Windows) -> bool:
        counts = p.counts
        count = counts.get(self.signal, 0) or counts.get(self.event, 0)
        return _holds(count, self.op, self.n)


class _Windowed(Check):
    """A windowed or filtered event condition: the times of matching events the record keeps."""

    def __init__(self, key: str, within: float | None, op: str, n: int) -> None:
        self.key = key
        self.within = within
        self.op = op
        self.n = n

    def holds(self, p: Profile, now: float, w: Windows) -> bool:
        times = w.get(self.key)
        if not times:
            return _holds(0, self.op, self.n)
        within = self.within
        if within is None:
            return _holds(len(times), self.op, self.n)
        since = now - within
        count = 0
        for t in times:  # a plain loop: a generator costs more than the few times kept
            if t > since:
                count += 1
        return _holds(count, self.op, self.n)


def _did(node: Did, out: Compiled, negated: bool) -> Check:
    op, n = node.op, node.count
    if node.within_s is None and not node.where:  # the record's own counters answer
        out.triggers.add(node.name)
        return _Total(node.name, op, n)
    out.counters.add(node)
    out.triggers.add(node.name)
    key = counter_key(node)
    within = node.within_s
    if within is not None:
        out.clock = True
        # as times leave the window the count only drops: ">=" can only fall, "<=" only rise
        falls = True if op == ">=" else False if op == "<=" or n == 0 else None
        out.wakeups.append((_WindowWakeup(key, float(within)), _way(falls, negated)))
    return _Windowed(key, None if within is None else float(within), op, n)


def _holds(count: int, op: str, n: int) -> bool:
    return count >= n if op == ">=" else count <= n if op == "<=" else count == n


# -- wake-ups

class _DaysWakeup(Wakeup):
    """When `days_since_...` reaches its threshold."""

    def __init__(self, code: int, offset: float) -> None:
        self.code = code
        self.offset = offset

    def times(self, p: Profile, now: float, w: Windows) -> list[float]:
        since = _since(p, self.code)
        return [since + self.offset + 1e-3] if since else []


class _WindowWakeup(Wakeup):
    """When each kept time leaves the window."""

    def __init__(self, key: str, within: float) -> None:
        self.key = key
        self.within = within

    def times(self, p: Profile, now: float, w: Windows) -> list[float]:
        times = w.get(self.key)
        if not times:
            return []
        within = self.within
        return [t + within for t in times]


class _LifecycleWakeup(Wakeup):
    """When the lifecycle tag turns: at 30, 60 and 120 days."""

    def times(self, p: Profile, now: float, w: Windows) -> list[float]:
        if not p.orders:
            return []
        return [p.first_order + NEW_DAYS * DAY + 1, p.last_order + ACTIVE_DAYS * DAY + 1,
                p.last_order + AT_RISK_DAYS * DAY + 1]


class _FieldWakeup(Wakeup):
    """A `Field`'s own wake-ups."""

    def __init__(self, wakeups: Wakeups) -> None:
        self.wakeups = wakeups

    def times(self, p: Profile, now: float, w: Windows) -> list[float]:
        return self.wakeups(p, now, w)
