"""A scenario as data: trigger, audience, steps, goal and policies, validated with the path of
every mistake (`$.steps[2].send.channel: unknown channel 'fax'`).

Written as YAML or JSON (the API, the CLI) or built in Python with `Scenario.from_dict`::

    name: abandoned_cart
    trigger: {inactivity: {after: added_to_cart, without: purchased, hours: 3}}
    audience: consents.email = true
    goal: {event: purchased, hours: 72}
    variants: {A: 50, B: 50}
    steps:
      - split: {A: plain, B: bonus}
      - id: plain
        send: {channel: email, subject: "You left something", template: cart_reminder}
      - exit
      - id: bonus
        send: {channel: email, subject: "10% off your cart", template: cart_reminder}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._errors import ValidationError
from ..segments import And, Did, Node, Not, Or, RuleError, known_field, parse

CHANNELS = ("email", "sms", "push", "webhook", "log")
ACTIONS = ("wait", "wait_for", "branch", "split", "send", "update", "webhook", "lead", "exit",
           "goto")
TRIGGERS = ("event", "segment_enter", "segment_exit", "intent_above", "cluster_change",
            "inactivity", "date")
NEXT, EXIT = "next", "exit"


class ScenarioError(ValidationError):
    """A scenario that does not validate; `path` says where in the document."""

    code = "invalid_scenario"


@dataclass(frozen=True)
class Trigger:
    kind: str  # one of TRIGGERS
    name: str | None = None  # event or signal, segment, or cluster (None: any change)
    threshold: float = 0.0  # intent_above
    without: str | None = None  # inactivity: the signal that must not follow
    seconds: float = 0.0  # inactivity: how long
    trait: str = "birthday"  # date: the trait holding the date (YYYY-MM-DD or MM-DD)
    hour: int = 10  # date: local hour to start
    days_before: int = 0


@dataclass(frozen=True)
class Step:
    action: str  # one of ACTIONS
    args: dict[str, Any]
    label: str | None = None


MAX_SPREAD_S = 3600.0


@dataclass(frozen=True)
class Policies:
    priority: int = 0
    cap_count: int | None = None  # this scenario's messages per customer...
    cap_seconds: float = 86400.0  # ...in this window
    quiet_hours: tuple[int, int] | None = (21, 8)  # local time [start, end)
    consent: bool = True  # a message needs the channel's explicit consent
    reentry: str = "after_exit"  # "never", "after_exit", or "cooldown"
    cooldown_s: float = 0.0
    send_time: str = "now"  # "now" or "best_hour" (the customer's best send hour)
    spread_s: float = 900.0
    """A send held for an hour (quiet hours' end, the best hour) goes out this long after the
    hour at most, at a moment drawn from the customer: the many held for the same hour are
    not one burst for the channel, nor one long commit for the engine."""


@dataclass(frozen=True)
class Scenario:
    name: str
    trigger: Trigger
    steps: tuple[Step, ...]
    audience: Node | None = None
    audience_text: str | None = None
    goal_event: str = "purchased"
    goal_s: float = 7 * 86400.0
    holdout: float = 0.10
    variants: dict[str, float] = field(default_factory=dict)
    policies: Policies = field(default_factory=Policies)
    description: str = ""
    enabled: bool = True
    source: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def labels(self) -> dict[str, int]:
        return {s.label: i for i, s in enumerate(self.steps) if s.label}

    def to_json(self) -> dict[str, Any]:
        return self.source

    @classmethod
    def from_dict(cls, data: Any) -> Scenario:
        return _parse(data)


def _fail(message: str, path: str) -> ScenarioError:
    return ScenarioError(message, path)


def _mapping(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(f"expected a mapping, got {type(value).__name__}", path)
    return value


def _number(value: Any, path: str, low: float = 0.0, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(f"expected a number, got {value!r}", path)
    if value < low or (high is not None and value > high):
        span = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise _fail(f"{value!r} is out of range: expected {span}", path)
    return float(value)


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"expected a non-empty string, got {value!r}", path)
    return value


def _duration(spec: Any, path: str) -> float:
    """`{hours: 3}`, `{minutes: 30}`, `{days: 2}`, any mix, or a bare number of hours."""
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        return _number(spec, path) * 3600.0
    spec = _mapping(spec, path)
    units = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0, "days": 86400.0}
    total = 0.0
    found = False
    for key, value in spec.items():
        if key in units:
            total += _number(value, f"{path}.{key}") * units[key]
            found = True
    if not found:
        raise _fail("expected a duration: seconds, minutes, hours or days", path)
    return total


def _check_keys(data: dict[str, Any], allowed: set[str], path: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise _fail(f"unknown key {unknown[0]!r}; expected one of {', '.join(sorted(allowed))}",
                    f"{path}.{unknown[0]}")


def _rule(text: Any, path: str) -> Node:
    text = _text(text, path)
    try:
        node = parse(text)
    except RuleError as exc:
        raise _fail(f"{exc.message}", path) from None
    _check_rule(node, path)
    return node


def _check_rule(node: Node, path: str) -> None:
    """Scenario rules read the record as it is; counting events in a window is a segment's job
    (use `segments contains "name"`)."""
    if isinstance(node, Did) and node.within_s is not None:
        raise _fail("a rule in a scenario cannot count events in a time window; define a "
                    "segment and test `segments contains \"its name\"`", path)
    if isinstance(node, And | Or):
        for item in node.items:
            _check_rule(item, path)
    elif isinstance(node, Not):
        _check_rule(node.item, path)
    elif hasattr(node, "field") and not known_field(node.field):
        raise _fail(f"unknown field {node.field!r}", path)


def _trigger(data: Any, path: str) -> Trigger:
    data = _mapping(data, path)
    kinds = [k for k in data if k in TRIGGERS]
    _check_keys(data, set(TRIGGERS), path)
    if len(kinds) != 1:
        raise _fail(f"expected exactly one trigger: {', '.join(TRIGGERS)}", path)
    kind = kinds[0]
    value = data[kind]
    here = f"{path}.{kind}"
    if kind in ("event", "segment_enter", "segment_exit"):
        return Trigger(kind, name=_text(value, here))
    if kind == "intent_above":
        return Trigger(kind, threshold=_number(value, here, 0.0, 1.0))
    if kind == "cluster_change":
        if value is True or value is None or value == "any":
            return Trigger(kind)
        return Trigger(kind, name=_text(value, here))
    if kind == "inactivity":
        spec = _mapping(value, here)
        _check_keys(spec, {"after", "without", "seconds", "minutes", "hours", "days"}, here)
        return Trigger(kind, name=_text(spec.get("after"), f"{here}.after"),
                       without=_text(spec.get("without", "purchased"), f"{here}.without"),
                       seconds=_duration({k: v for k, v in spec.items()
                                          if k not in ("after", "without")}, here))
    spec = _mapping(value, here)
    _check_keys(spec, {"trait", "hour", "days_before"}, here)
    return Trigger(kind, trait=_text(spec.get("trait", "birthday"), f"{here}.trait"),
                   hour=int(_number(spec.get("hour", 10), f"{here}.hour", 0, 23)),
                   days_before=int(_number(spec.get("days_before", 0), f"{here}.days_before",
                                           0, 365)))


def _target(value: Any, path: str, labels: set[str]) -> str:
    value = _text(value, path)
    if value not in labels and value not in (NEXT, EXIT):
        raise _fail(f"no step with id {value!r}; expected a step id, 'next' or 'exit'", path)
    return value


def _step(data: Any, path: str, labels: set[str], arms: set[str]) -> Step:
    if data in ("exit", "next"):
        data = {data: None}
    data = _mapping(data, path)
    label = data.get("id")
    actions = [k for k in data if k != "id"]
    if len(actions) != 1 or actions[0] not in ACTIONS:
        raise _fail(f"a step needs exactly one action: {', '.join(ACTIONS)}", path)
    action = actions[0]
    value = data[action]
    here = f"{path}.{action}"
    args: dict[str, Any] = {}
    if action == "wait":
        args["seconds"] = _duration(value, here)
        if args["seconds"] < 1:  # a zero wait in a loop would fire forever at one instant
            raise _fail("a wait lasts at least a second", here)
    elif action == "wait_for":
        spec = _mapping(value, here)
        _check_keys(spec, {"event", "then", "timeout", "seconds", "minutes", "hours", "days"},
                    here)
        args = {"event": _text(spec.get("event"), f"{here}.event"),
                "seconds": _duration({k: v for k, v in spec.items()
                                      if k in ("seconds", "minutes", "hours", "days")}, here),
                "then": _target(spec.get("then", EXIT), f"{here}.then", labels),
                "timeout": _target(spec.get("timeout", NEXT), f"{here}.timeout", labels)}
        if args["seconds"] < 1:
            raise _fail("a wait_for lasts at least a second", here)
    elif action == "branch":
        spec = _mapping(value, here)
        _check_keys(spec, {"if", "then", "else"}, here)
        args = {"if": _rule(spec.get("if"), f"{here}.if"), "if_text": spec.get("if"),
                "then": _target(spec.get("then", NEXT), f"{here}.then", labels),
                "else": _target(spec.get("else", NEXT), f"{here}.else", labels)}
    elif action == "split":
        spec = _mapping(value, here)
        if not arms:
            raise _fail("a split needs the scenario's `variants` (for example {A: 50, B: 50})",
                        here)
        if set(spec) != arms:
            raise _fail(f"a split names every variant: {', '.join(sorted(arms))}", here)
        args = {arm: _target(t, f"{here}.{arm}", labels) for arm, t in spec.items()}
    elif action == "send":
        spec = _mapping(value, here)
        _check_keys(spec, {"channel", "subject", "body", "template", "offer", "url"}, here)
        channel = _text(spec.get("channel", "email"), f"{here}.channel")
        if channel not in CHANNELS:
            raise _fail(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}",
                        f"{here}.channel")
        if "body" not in spec and "template" not in spec:
            raise _fail("a send needs a `body` or a `template`", here)
        args = dict(spec, channel=channel)
    elif action == "update":
        spec = _mapping(value, here)
        _check_keys(spec, {"traits", "tags"}, here)
        if not spec:
            raise _fail("an update sets `traits` or adds `tags`", here)
        tags = spec.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            raise _fail("`tags` is a list of names", f"{here}.tags")
        args = {"traits": _mapping(spec.get("traits", {}), f"{here}.traits"), "tags": tags}
    elif action == "webhook":
        spec = _mapping(value, here)
        _check_keys(spec, {"url", "body"}, here)
        url = _text(spec.get("url"), f"{here}.url")
        if not url.startswith(("http://", "https://")):
            raise _fail(f"expected an http(s) URL, got {url!r}", f"{here}.url")
        args = {"url": url, "body": spec.get("body")}
    elif action == "lead":
        spec = _mapping(value or {}, here)
        _check_keys(spec, {"team", "note"}, here)
        args = {"team": spec.get("team", "sales"), "note": spec.get("note", "")}
    elif action == "goto":
        args = {"to": _target(value, here, labels)}
    elif action == "next":
        action = "goto"
        args = {"to": NEXT}
    return Step(action, args, label)


def _policies(data: Any, path: str) -> Policies:
    data = _mapping(data, path)
    _check_keys(data, {"priority", "cap", "quiet_hours", "consent", "reentry", "send_time",
                       "spread"}, path)
    kw: dict[str, Any] = {}
    if "priority" in data:
        kw["priority"] = int(_number(data["priority"], f"{path}.priority", -1000, 1000))
    if "cap" in data:
        cap = _mapping(data["cap"], f"{path}.cap")
        _check_keys(cap, {"count", "seconds", "minutes", "hours", "days"}, f"{path}.cap")
        kw["cap_count"] = int(_number(cap.get("count", 1), f"{path}.cap.count", 1))
        window = {k: v for k, v in cap.items() if k != "count"}
        kw["cap_seconds"] = _duration(window, f"{path}.cap") if window else 86400.0
    if "quiet_hours" in data:
        quiet = data["quiet_hours"]
        if quiet is None or quiet is False:
            kw["quiet_hours"] = None
        elif (isinstance(quiet, list) and len(quiet) == 2):
            kw["quiet_hours"] = tuple(int(_number(h, f"{path}.quiet_hours[{i}]", 0, 23))
                                      for i, h in enumerate(quiet))
        else:
            raise _fail("expected [start hour, end hour] or null", f"{path}.quiet_hours")
    if "consent" in data:
        if not isinstance(data["consent"], bool):
            raise _fail("expected true or false", f"{path}.consent")
        kw["consent"] = data["consent"]
    if "reentry" in data:
        reentry = data["reentry"]
        if reentry in ("never", "after_exit"):
            kw["reentry"] = reentry
        else:
            kw["reentry"] = "cooldown"
            kw["cooldown_s"] = _duration(_mapping(reentry, f"{path}.reentry").get("after"),
                                         f"{path}.reentry.after")
    if "send_time" in data:
        if data["send_time"] not in ("now", "best_hour"):
            raise _fail("expected 'now' or 'best_hour'", f"{path}.send_time")
        kw["send_time"] = data["send_time"]
    if "spread" in data:
        spread = data["spread"]
        kw["spread_s"] = (0.0 if spread is None or spread is False
                          else _duration(spread, f"{path}.spread"))
        if not 0.0 <= kw["spread_s"] <= MAX_SPREAD_S:
            raise _fail("expected a duration of at most an hour, or null", f"{path}.spread")
    return Policies(**kw)


_TOP = {"name", "description", "trigger", "audience", "steps", "goal", "holdout", "variants",
        "policies", "enabled"}


def _parse(data: Any) -> Scenario:
    data = _mapping(data, "$")
    _check_keys(data, _TOP, "$")
    name = _text(data.get("name"), "$.name")
    if not name.replace("_", "").replace("-", "").isalnum():
        raise _fail("a name uses letters, digits, '_' and '-'", "$.name")
    if "trigger" not in data:
        raise _fail("a scenario needs a trigger", "$.trigger")
    trigger = _trigger(data["trigger"], "$.trigger")
    audience = _rule(data["audience"], "$.audience") if data.get("audience") else None
    variants: dict[str, float] = {}
    if data.get("variants"):
        raw = _mapping(data["variants"], "$.variants")
        variants = {str(k): _number(v, f"$.variants.{k}", 0.0) for k, v in raw.items()}
        if len(variants) < 2 or sum(variants.values()) <= 0:
            raise _fail("variants need at least two arms with positive weights", "$.variants")
        if "holdout" in variants:
            raise _fail("'holdout' is the control group's name; call the variant otherwise",
                        "$.variants")
    steps_data = data.get("steps")
    if not isinstance(steps_data, list) or not steps_data:
        raise _fail("a scenario needs a non-empty list of steps", "$.steps")
    labels: set[str] = set()
    for i, s in enumerate(steps_data):
        if isinstance(s, dict) and "id" in s:
            label = _text(s["id"], f"$.steps[{i}].id")
            if label in labels or label in (NEXT, EXIT):
                raise _fail(f"step id {label!r} is used twice or reserved", f"$.steps[{i}].id")
            labels.add(label)
    steps = tuple(_step(s, f"$.steps[{i}]", labels, set(variants))
                  for i, s in enumerate(steps_data))
    goal = _mapping(data.get("goal", {}), "$.goal")
    _check_keys(goal, {"event", "seconds", "minutes", "hours", "days"}, "$.goal")
    goal_window = {k: v for k, v in goal.items() if k != "event"}
    holdout = _number(data.get("holdout", 0.10), "$.holdout", 0.0, 0.9)
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _fail("expected true or false", "$.enabled")
    return Scenario(
        name=name, trigger=trigger, steps=steps, audience=audience,
        audience_text=data.get("audience") or None,
        goal_event=_text(goal.get("event", "purchased"), "$.goal.event"),
        goal_s=_duration(goal_window, "$.goal") if goal_window else 7 * 86400.0,
        holdout=holdout, variants=variants,
        policies=_policies(data.get("policies", {}), "$.policies"),
        description=str(data.get("description", "")), enabled=enabled, source=data)
