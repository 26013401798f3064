"""The golden record of one customer, as kept in the hot-profile cache and checkpointed."""

from __future__ import annotations

from typing import Any

import msgspec


class Profile(msgspec.Struct, array_like=True, gc=False):
    """Everything Intently knows about one customer, updated in O(1) per event.

    Stored as a compact msgpack array; field order is part of the storage format, so new fields
    go at the end with a default.
    """

    id: str
    user_id: str | None = None
    identities: list[str] = []  # namespaced keys: "u:42", "a:3f9c...", "e:ann@example.com"
    traits: dict[str, Any] = {}
    first_seen: float = 0.0
    last_seen: float = 0.0
    events: int = 0
    event_counts: dict[str, int] = {}
    signal_counts: dict[str, int] = {}
    sessions: int = 0
    session_start: float = 0.0
    session_events: int = 0
    orders: int = 0
    revenue: float = 0.0
    first_order: float = 0.0
    last_order: float = 0.0
    categories: dict[str, int] = {}
    channels: dict[str, int] = {}
    hours: dict[int, int] = {}  # local hour of day -> events
    tz: str | None = None
    consents: dict[str, bool] = {}
    journey_start: float = 0.0
    entry: dict[str, str] = {}  # first touch of the current journey
    chain: list[str] = []  # signals of the current journey, oldest first (capped)
    chain_ts: list[float] = []
    merged_from: list[str] = []

    @property
    def anonymous_ids(self) -> list[str]:
        return [key[2:] for key in self.identities if key.startswith("a:")]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(msgspec.structs.asdict(self))
        data["hours"] = {str(k): v for k, v in sorted(self.hours.items())}
        return data


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Profile)


def encode_profile(profile: Profile) -> bytes:
    return _encoder.encode(profile)


def decode_profile(blob: bytes) -> Profile:
    return _decoder.decode(blob)
