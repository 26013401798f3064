"""The golden record of one customer, as kept in the hot-profile cache and checkpointed: the
record (`Profile`), its parts, and writing and reading it (a msgpack array of its fields, laid
out in `_stored`; read by `_decode`, which is compiled)."""

from __future__ import annotations

from array import array
from typing import Any

import msgspec

from ._decode import decode_profile
from ._parts import (
    CART_VALUE,
    FIRST_ORDER,
    FIRST_SEEN,
    INTENT,
    INTENT_ACC,
    JOURNEY_START,
    KEY_DELTA,
    KEY_TS,
    LAST_ORDER,
    LAST_SEEN,
    LAST_SEQ,
    REVENUE,
    SCALARS,
    SESSION_START,
    HourCounts,
    Scalars,
    ScenarioProgress,
    ScenarioState,
    SegmentState,
    Times,
    Touch,
    new_hours,
    new_times,
)
from ._record import FIELDS, Profile

__all__ = [
    "CART_VALUE",
    "FIELDS",
    "FIRST_ORDER",
    "FIRST_SEEN",
    "INTENT",
    "INTENT_ACC",
    "JOURNEY_START",
    "KEY_DELTA",
    "KEY_TS",
    "LAST_ORDER",
    "LAST_SEEN",
    "LAST_SEQ",
    "REVENUE",
    "SCALARS",
    "SESSION_START",
    "HourCounts",
    "Profile",
    "Scalars",
    "ScenarioProgress",
    "ScenarioState",
    "SegmentState",
    "Times",
    "Touch",
    "decode_profile",
    "encode_profile",
    "new_hours",
    "new_times",
]


def _enc(obj: Any) -> Any:
    if isinstance(obj, array):
        return obj.tobytes()
    raise NotImplementedError(type(obj).__name__)


_encoder = msgspec.msgpack.Encoder(enc_hook=_enc)


def encode_profile(profile: Profile) -> bytes:
    return _encoder.encode(profile.stored())  # a tuple encodes as the array `Stored` reads
