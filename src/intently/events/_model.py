"""The event: Segment's tracking spec as a msgspec struct, validated on decode."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from ._bounds import check_bounds, normalize_money
from ._time import parse_timestamp

EventType = Literal["track", "identify", "page", "screen", "alias", "group"]

_NAME_BY_TYPE = {
    "identify": "Identify",
    "page": "Page Viewed",
    "screen": "Screen Viewed",
    "alias": "Alias",
    "group": "Group",
}


class Event(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """One behavior event in Segment's format.

    Fields follow Segment (`userId`, `anonymousId`, `messageId`, `properties`, ...). Two are
    Intently's own and never taken from a client: `ts`, the event time as epoch seconds, and
    `received_at`, when Intently accepted it (both set by the engine when it accepts the event).

    The event time is `timestamp` (or `originalTimestamp`), corrected for the sending device's
    clock as Segment does when the client says when it sent the call (`sentAt`):
    `receivedAt - (sentAt - originalTimestamp)`. An export line that already carries a
    collector's `receivedAt` keeps its `timestamp` (that collector corrected it).
    """

    type: EventType = "track"
    event: str | None = None
    user_id: str | int | None = None
    anonymous_id: str | int | None = None
    previous_id: str | int | None = None
    group_id: str | int | None = None
    message_id: str | None = None
    timestamp: str | float | None = None
    original_timestamp: str | float | None = None
    sent_at: str | float | None = None
    collected_at: str | float | None = msgspec.field(default=None, name="receivedAt")
    name: str | None = None
    category: str | None = None
    channel: str | None = None
    properties: dict[str, Any] = {}
    traits: dict[str, Any] = {}
    context: dict[str, Any] = {}
    ts: float = 0.0
    received_at: float = msgspec.field(default=0.0, name="intentlyReceivedAt")

    def __post_init__(self) -> None:
        # Messages start with the field name and a colon; `errors.py` turns that into a path.
        if type(self.user_id) is int:
            self.user_id = str(self.user_id)
        if type(self.anonymous_id) is int:
            self.anonymous_id = str(self.anonymous_id)
        if type(self.previous_id) is int:
            self.previous_id = str(self.previous_id)
        if type(self.group_id) is int:
            self.group_id = str(self.group_id)
        kind = self.type
        if kind == "track":
            if not self.event:
                raise ValueError("event: required for track events (the action's name)")
        elif kind == "alias" and (not self.previous_id or not self.user_id):
            raise ValueError("previousId: alias needs both previousId and userId")
        if not self.user_id and not self.anonymous_id and kind != "alias":
            raise ValueError("userId: every event needs a userId or an anonymousId")
        if self.properties:
            check_bounds(self.properties, "properties")
            normalize_money(self.properties)
        if self.traits:
            check_bounds(self.traits, "traits")
        if self.context:
            check_bounds(self.context, "context")
            declared = self.context.get("traits")  # RudderStack sends identify traits here
            if declared and type(declared) is dict and kind != "group":
                self.traits = {**declared, **self.traits}
        if kind == "group" and self.traits:  # the company's traits, not the person's
            self.properties = {**self.properties, "group_traits": self.traits}
            self.traits = {}
        self.ts = self._claimed_time()
        self.received_at = 0.0  # the engine's to set, on acceptance

    def _claimed_time(self) -> float:
        """The event time the sender claims (0.0: none), skew-corrected where the event says
        when a collector received it; otherwise the engine corrects it on acceptance."""
        stamp = _parsed("timestamp", self.timestamp)
        original = _parsed("originalTimestamp", self.original_timestamp)
        if self.sent_at is not None:
            self.sent_at = _parsed("sentAt", self.sent_at) or None
        if self.collected_at is None:
            return stamp or original
        collected = _parsed("receivedAt", self.collected_at)
        if stamp:
            return stamp
        sent = self.sent_at
        if original and type(sent) is float:
            return max(0.0, collected - (sent - original))
        return original or collected

    def event_time(self, now: float, future_s: float) -> float:
        """The time this event is filed under when accepted at `now`: the claimed time
        corrected for the device's clock (`sentAt`), never more than `future_s` ahead of the
        receive time (a later claim is replaced by the receive time; the claim stays in the
        stored event). No claim: the receive time."""
        ts = self.ts
        if not ts:
            return now
        sent = self.sent_at
        if sent is not None and self.collected_at is None and type(sent) is float:
            ts = now - (sent - ts)
            if ts < 0.0:
                ts = 0.0
        return now if ts > now + future_s else ts

    @property
    def action(self) -> str:
        """The name signals are looked up by: `event` for track, a fixed name for the rest."""
        return self.event if self.type == "track" else _NAME_BY_TYPE[self.type]  # type: ignore[return-value]


def _parsed(name: str, value: str | float | None) -> float:
    if value is None or value == "":
        return 0.0
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


class Batch(msgspec.Struct, rename="camel", kw_only=True):
    """Segment's `/v1/batch` body. A top-level `context` is merged into each event's, and a
    top-level `sentAt` (Segment's server libraries send it there) applies to each event."""

    batch: list[Event]
    context: dict[str, Any] | None = None
    sent_at: str | float | None = None
    write_key: str | None = None
