"""The event: Segment's tracking spec as a msgspec struct, validated on decode."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

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
    Intently's own: `ts`, the event time as epoch seconds (from `timestamp`, or the receive time
    when absent), and `received_at`, when Intently accepted it.
    """

    type: EventType = "track"
    event: str | None = None
    user_id: str | int | None = None
    anonymous_id: str | int | None = None
    previous_id: str | int | None = None
    message_id: str | None = None
    timestamp: str | float | None = None
    name: str | None = None
    category: str | None = None
    channel: str | None = None
    properties: dict[str, Any] = {}
    traits: dict[str, Any] = {}
    context: dict[str, Any] = {}
    ts: float = 0.0
    received_at: float = 0.0

    def __post_init__(self) -> None:
        # Messages start with the field name and a colon; `errors.py` turns that into a path.
        if type(self.user_id) is int:
            self.user_id = str(self.user_id)
        if type(self.anonymous_id) is int:
            self.anonymous_id = str(self.anonymous_id)
        if type(self.previous_id) is int:
            self.previous_id = str(self.previous_id)
        kind = self.type
        if kind == "track":
            if not self.event:
                raise ValueError("event: required for track events (the action's name)")
        elif kind == "alias" and (not self.previous_id or not self.user_id):
            raise ValueError("previousId: alias needs both previousId and userId")
        if not self.user_id and not self.anonymous_id and kind != "alias":
            raise ValueError("userId: every event needs a userId or an anonymousId")
        if self.ts == 0.0 and self.timestamp is not None and self.timestamp != "":
            try:
                self.ts = parse_timestamp(self.timestamp)
            except ValueError as exc:
                raise ValueError(f"timestamp: {exc}") from None

    @property
    def action(self) -> str:
        """The name signals are looked up by: `event` for track, a fixed name for the rest."""
        return self.event if self.type == "track" else _NAME_BY_TYPE[self.type]  # type: ignore[return-value]


class Batch(msgspec.Struct, rename="camel", kw_only=True):
    """Segment's `/v1/batch` body. A top-level `context` is merged into each event's."""

    batch: list[Event]
    context: dict[str, Any] = {}
    write_key: str | None = None
