"""Reading a stored record (`decode_profile`), compiled with the hot modules: with a population
larger than the cache, records leave it and are read back, and decoding is most of a read's own
time (SQLite's look-up is the rest)."""

from __future__ import annotations

from array import array
from collections.abc import Callable
from functools import partial
from sys import intern
from typing import Any

import msgspec

from ._items import ItemMemory
from ._parts import SCALARS, HourCounts, Scalars, Times, Touch
from ._record import Profile
from ._stored import Stored

# packed arrays from their stored bytes: copied from a plain array of the bytes (the array
# subclasses' constructor copies an array of the same type code at its exact size; from bytes
# it would allocate room to grow, and through a list of Python numbers it took twice as long),
# and without the classes' Python-level `__new__` (a record holds ten or so of them, most of
# them times: the hook runs once for each, so it is kept short)
_PACKED: dict[type, tuple[str, Callable[[Any], Any]]] = {
    kind: (code, partial(array.__new__, kind, code)) for kind, code in (
        (Times, "d"), (HourCounts, "H"), (Scalars, "d"), (ItemMemory, "I"))}
_FIGURES_BYTES = 8 * len(SCALARS)


def _dec(kind: type, obj: Any) -> Any:
    if obj.__class__ is bytes:
        packed = _PACKED.get(kind)
        if packed is not None:
            code, make = packed
            if kind is Scalars and len(obj) < _FIGURES_BYTES:  # stored before a figure was added
                values: list[Any] = array(code, obj).tolist()
                return make(values + [0.0] * (len(SCALARS) - len(values)))
            return make(array(code, obj))
    raise NotImplementedError(kind.__name__)


_decoder = msgspec.msgpack.Decoder(Stored, dec_hook=_dec)


def decode_profile(blob: bytes) -> Profile:
    """Decode a stored record, sharing the strings that repeat across records (event, signal,
    category and channel names, entry points, time zones) instead of copying them into each."""
    p: Stored = _decoder.decode(blob)
    e = p.entry
    seg = p.seg
    sc = p.sc
    if seg is not None:
        if seg.legacy_sc is not None:  # stored before scenario state had a slot of its own
            sc = sc or seg.legacy_sc
            seg.legacy_sc = None
        seg.members = tuple(intern(s) for s in seg.members)
        if seg.windows:
            seg.windows = {intern(k): v for k, v in seg.windows.items()}
    user_id = p.id if p.user_id == p.id else p.user_id  # one string for both, as when created
    return Profile(
        p.id, user_id, p.identities, p.traits, p.figures, p.events,
        {intern(k): v for k, v in p.counts.items()}, p.sessions, p.session_events, p.orders,
        {intern(k): v for k, v in p.categories.items()}, p.hours,
        intern(p.tz) if p.tz else p.tz, p.consents,
        Touch(*(intern(v) if v else None for v in (  # type: ignore[arg-type]
            e.channel, e.source, e.campaign, e.medium, e.referrer, e.landing))),
        [intern(s) for s in p.chain], p.chain_ts,
        intern(p.key_action) if p.key_action else p.key_action,
        intern(p.cluster) if p.cluster else p.cluster, seg, sc, p.items)
