"""The event: Segment's tracking spec as a msgspec struct, validated on decode."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from ._checks import filed_time, validate

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
        validate(self)

    def event_time(self, now: float, future_s: float) -> float:
        """The time this event is filed under when accepted at `now`: the claimed time
        corrected for the device's clock (`sentAt`), never more than `future_s` ahead of the
        receive time (a later claim is replaced by the receive time; the claim stays in the
        stored event). No claim: the receive time."""
        return filed_time(self, now, future_s)

    @property
    def action(self) -> str:
        """The name signals are looked up by: `event` for track, a fixed name for the rest."""
        return self.event if self.type == "track" else _NAME_BY_TYPE[self.type]  # type: ignore[return-value]


class Batch(msgspec.Struct, rename="camel", kw_only=True):
    """Segment's `/v1/batch` body. A top-level `context` is merged into each event's, and a
    top-level `sentAt` (Segment's server libraries send it there) applies to each event."""

    batch: list[Event]
    context: dict[str, Any] | None = None
    sent_at: str | float | None = None
    write_key: str | None = None
