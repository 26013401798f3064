"""An event's checks on decode, compiled with the hot path: ids, required fields, bounds and
amounts, traits and the claimed time. `Event.__post_init__` is this one call (every decoded
event runs it, so it costs a native call instead of interpreted attribute work).

Messages start with the field's path and a colon; `errors.py` turns that into a JSONPath.
"""

from __future__ import annotations

from typing import Any

from ._bounds import check_bounds, normalize_money
from ._time import parse_timestamp


def validate(ev: Any) -> None:
    """Check and normalize a freshly decoded `Event` in place (raises ValueError)."""
    if type(ev.user_id) is int:
        ev.user_id = str(ev.user_id)
    if type(ev.anonymous_id) is int:
        ev.anonymous_id = str(ev.anonymous_id)
    if type(ev.previous_id) is int:
        ev.previous_id = str(ev.previous_id)
    if type(ev.group_id) is int:
        ev.group_id = str(ev.group_id)
    kind: str = ev.type
    if kind == "track":
        if not ev.event:
            raise ValueError("event: required for track events (the action's name)")
    elif kind == "alias" and (not ev.previous_id or not ev.user_id):
        raise ValueError("previousId: alias needs both previousId and userId")
    if not ev.user_id and not ev.anonymous_id and kind != "alias":
        raise ValueError("userId: every event needs a userId or an anonymousId")
    if (_nul(ev.user_id) or _nul(ev.anonymous_id) or _nul(ev.message_id) or _nul(ev.event)
            or _nul(ev.previous_id) or _nul(ev.group_id)):
        raise ValueError(f"{_nul_field(ev)}: must not contain a NUL character")
    props: dict[str, Any] = ev.properties
    if props:
        check_bounds(props, "properties")
        normalize_money(props)
    if props and _nul(props.get("order_id")):
        raise ValueError("properties.order_id: must not contain a NUL character")
    traits: dict[str, Any] = ev.traits
    if traits:
        check_bounds(traits, "traits")
        if _nul(traits.get("email")):
            raise ValueError("traits.email: must not contain a NUL character")
    context: dict[str, Any] = ev.context
    if context:
        check_bounds(context, "context")
        declared = context.get("traits")  # RudderStack sends identify traits here
        if declared and type(declared) is dict and kind != "group":
            ev.traits = traits = {**declared, **traits}
    if kind == "group" and traits:  # the company's traits, not the person's
        ev.properties = {**props, "group_traits": traits}
        ev.traits = {}
    ev.ts = claimed_time(ev)
    ev.received_at = 0.0  # the engine's to set, on acceptance


def _nul(value: object) -> bool:
    """Text that holds a NUL: ids and keys become keys of the store's tables, and
    PostgreSQL's text cannot hold one (a batch with one would fail every commit, retried)."""
    return type(value) is str and "\x00" in value


def _nul_field(ev: Any) -> str:
    for name, value in (("userId", ev.user_id), ("anonymousId", ev.anonymous_id),
                        ("messageId", ev.message_id), ("event", ev.event),
                        ("previousId", ev.previous_id)):
        if _nul(value):
            return name
    return "groupId"


def claimed_time(ev: Any) -> float:
    """The event time the sender claims (0.0: none), skew-corrected where the event says when
    a collector received it; otherwise the engine corrects it on acceptance (`filed_time`)."""
    stamp = _parsed("timestamp", ev.timestamp)
    original = _parsed("originalTimestamp", ev.original_timestamp) if (
        ev.original_timestamp is not None) else 0.0
    if ev.sent_at is not None:
        ev.sent_at = _parsed("sentAt", ev.sent_at) or None
    if ev.collected_at is None:
        return stamp or original
    collected = _parsed("receivedAt", ev.collected_at)
    if stamp:
        return stamp
    sent = ev.sent_at
    if original and type(sent) is float:
        return max(0.0, collected - (sent - original))
    return original or collected


def filed_time(ev: Any, now: float, future_s: float) -> float:
    """See `Event.event_time`."""
    ts: float = ev.ts
    if not ts:
        return now
    sent = ev.sent_at
    if sent is not None and ev.collected_at is None and type(sent) is float:
        ts = now - (sent - ts)
        if ts < 0.0:
            ts = 0.0
    return now if ts > now + future_s else ts


def _parsed(name: str, value: Any) -> float:
    if value is None or value == "":
        return 0.0
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
