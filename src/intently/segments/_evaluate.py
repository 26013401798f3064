"""Evaluating a rule for one customer.

Fields read the golden record: `orders`, `revenue`, `events`, `sessions`, `intent`, `cluster`,
`key_action`, `cart_value`, `average_order`, `segments` (the names, for `contains`),
`days_since_last_order`, `days_since_last_seen`,
`days_since_first_seen`, `traits.<name>`, `consents.<channel>`, `categories.<name>` and
`signals.<name>` (counts), `tags.<name>` (the portrait: `lifecycle`, `price_sensitivity`,
`category_affinity`, `preferred_channel`, `best_send_hour`, `discount_share`), `tz`,
`user_id`. A missing field makes a comparison false (and `!=` true). Event conditions count
matching events through the context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..profiles import Profile, tag
from ._ast import And, Compare, Did, Node, Not

MISSING = object()


class Context(Protocol):
    def value(self, field: str) -> Any: ...
    def count(self, condition: Did) -> int: ...


def evaluate(node: Node, ctx: Context) -> bool:
    if isinstance(node, Compare):
        return compare(ctx.value(node.field), node.op, node.value)
    if isinstance(node, Did):
        n = ctx.count(node)
        return n >= node.count if node.op == ">=" else n <= node.count if node.op == "<=" else (
            n == node.count)
    if isinstance(node, Not):
        return not evaluate(node.item, ctx)
    if isinstance(node, And):
        return all(evaluate(i, ctx) for i in node.items)
    return any(evaluate(i, ctx) for i in node.items)


def compare(actual: Any, op: str, wanted: Any) -> bool:
    if actual is MISSING or actual is None:
        return op == "!="
    try:
        if op == "=":
            return bool(actual == wanted)
        if op == "!=":
            return bool(actual != wanted)
        if op == "in":
            return actual in (wanted if isinstance(wanted, tuple) else (wanted,))
        if op == "contains":
            return wanted in actual if isinstance(actual, str | list | tuple | dict) else False
        if isinstance(actual, bool) or isinstance(wanted, bool | tuple):
            return False
        if isinstance(actual, str) != isinstance(wanted, str):
            return False
        if op == ">":
            return bool(actual > wanted)
        if op == ">=":
            return bool(actual >= wanted)
        if op == "<":
            return bool(actual < wanted)
        if op == "<=":
            return bool(actual <= wanted)
        raise KeyError(op)
    except TypeError:
        return False


def _days(now: float, ts: float) -> float | None:
    return (now - ts) / 86400.0 if ts else None


FIELDS: dict[str, Callable[[Profile, float], Any]] = {
    "orders": lambda p, now: p.orders,
    "revenue": lambda p, now: p.revenue,
    "events": lambda p, now: p.events,
    "sessions": lambda p, now: p.sessions,
    "intent": lambda p, now: p.intent,
    "cluster": lambda p, now: p.cluster,
    "key_action": lambda p, now: p.key_action,
    "cart_value": lambda p, now: p.cart_value,
    "average_order": lambda p, now: p.revenue / p.orders if p.orders else 0.0,
    "days_since_last_order": lambda p, now: _days(now, p.last_order),
    "days_since_last_seen": lambda p, now: _days(now, p.last_seen),
    "days_since_first_seen": lambda p, now: _days(now, p.first_seen),
    "tz": lambda p, now: p.tz,
    "user_id": lambda p, now: p.user_id,
    "segments": lambda p, now: p.segments,  # `segments contains "cart abandoners"`
}
PREFIXED: dict[str, Callable[[Profile, str], Any]] = {
    "traits": lambda p, k: p.traits.get(k, MISSING),
    "consents": lambda p, k: p.consents.get(k, MISSING),
    "categories": lambda p, k: p.categories.get(k, 0),
    "signals": lambda p, k: p.signal_count(k),
}


def field_value(profile: Profile, field: str, now: float) -> Any:
    if field.startswith("tags."):
        value = tag(profile, field[5:], now)
        return MISSING if value is None else value
    getter = FIELDS.get(field)
    if getter is not None:
        return getter(profile, now)
    head, _, rest = field.partition(".")
    prefixed = PREFIXED.get(head)
    if prefixed is not None and rest:
        return prefixed(profile, rest)
    return MISSING


RFM = frozenset({"r", "f", "m", "score", "segment"})  # when `intently rfm update` has run
CLV = frozenset({"p_alive", "expected_orders_90d", "value_90d"})  # after `intently clv update`
TAGS = frozenset({"category_affinity", "price_sensitivity", "discount_share",
                  "preferred_channel", "best_send_hour", "lifecycle"})


def known_field(field: str) -> bool:
    head, _, rest = field.partition(".")
    return field in FIELDS or (head in PREFIXED and bool(rest)) or (
        head == "tags" and rest in TAGS) or (head == "rfm" and rest in RFM) or (
        head == "clv" and rest in CLV)
