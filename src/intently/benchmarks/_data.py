"""Bench inputs: the simulator's events as JSON bytes, as they arrive over HTTP or from files."""

from __future__ import annotations

import msgspec

from ..testing import Shop


def shop_events(users: int, days: float, seed: int = 11, first: int = 0) -> list[bytes]:
    encode = msgspec.json.encode
    return [encode(ev) for ev in Shop(users=users, days=days, seed=seed, first=first).events()]
