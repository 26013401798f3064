"""The storage format of a golden record: its fields, in order, as one msgpack array.

Kept apart from the code that reads it (`_decode`, compiled with the hot modules): a msgspec
struct is defined in interpreted Python."""

from __future__ import annotations

from typing import Any

import msgspec

from ._items import ItemMemory
from ._parts import (
    HourCounts,
    Scalars,
    ScenarioState,
    SegmentState,
    Times,
    Touch,
    new_hours,
    new_times,
)
from ._record import FIELDS


class Stored(msgspec.Struct, array_like=True, gc=False):
    """The storage format of `Profile`: its fields, in order, as one msgpack array."""

    id: str
    user_id: str | None = None
    identities: list[str] = []
    traits: dict[str, Any] = {}
    figures: Scalars = msgspec.field(default_factory=Scalars)
    events: int = 0
    counts: dict[str, int] = {}
    sessions: int = 0
    session_events: int = 0
    orders: int = 0
    categories: dict[str, int] = {}
    hours: HourCounts = msgspec.field(default_factory=new_hours)
    tz: str | None = None
    consents: dict[str, bool] = {}
    entry: Touch = msgspec.field(default_factory=Touch)
    chain: list[str] = []
    chain_ts: Times = msgspec.field(default_factory=new_times)
    key_action: str | None = None
    cluster: str | None = None
    seg: SegmentState | None = None
    sc: ScenarioState | None = None
    items: ItemMemory | None = None


assert Stored.__struct_fields__ == FIELDS
