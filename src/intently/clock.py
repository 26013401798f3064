"""Time comes from a clock the engine is given, never from `time.time()` in domain code."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (UTC)."""


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock tests move by hand: `clock.advance(3 * 3600)` skips three hours instantly."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def set(self, ts: float) -> None:
        self._now = float(ts)

    def advance(self, seconds: float) -> float:
        self._now += seconds
        return self._now
