"""Where the log's receive times stand, so that a read of the events from some time on skips
the part of the log received before it, with no index on time (which every event would pay
to write).

A mark `(seq, received)` says that every event at a position up to `seq` was received at
`received` or before: the highest receive time logged up to there, so marks rise with their
positions whatever order receive times come in (a clock set back, events moved here from
another partition with their old times). A store writes one with the commit that takes its
log `MARK_POSITIONS` positions, or `MARK_SECONDS` of receive time, past the mark before, in
the same transaction as the events. The stretch after the last mark is short, and its highest
receive time is read when a store opens for writing; a store written before marks existed is
read whole then, once, and marked where it ends.

An event's time is at most its receive time plus the future tolerance (`Settings`): a reader
asking for events from time `t` on skips the positions up to the last mark received before
`t` less that tolerance (`events_since(received_from=)`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ._ports import LogRow

MARK_POSITIONS = 10_000
"""A mark at least every this many log positions: what a read may scan before the events it
wants, and what a store opening reads after its last mark."""

MARK_SECONDS = 60.0
"""... and at least every this much receive time."""


class Marks:
    """A writer's running view: the last mark and the highest receive time logged since."""

    def __init__(self, seq: int = 0, received: float = 0.0, top: float = 0.0) -> None:
        self.seq = seq  # the last mark's position (0: none)
        self.received = received  # its receive time
        self.top = max(top, received)  # the highest receive time logged so far

    def add(self, rows: Sequence[LogRow]) -> tuple[int, float] | None:
        """Note rows appended in log order; the mark to write with them, when one is due.
        (A commit that fails after this leaves `top` too high, which keeps every later mark
        true: it bounds the receive times from above.)"""
        if not rows:
            return None
        top = self.top
        for row in rows:
            received = row[3]
            if received > top:
                top = received
        self.top = top
        last = rows[-1][0]
        if last - self.seq < MARK_POSITIONS and top - self.received < MARK_SECONDS:
            return None
        self.seq, self.received = last, top
        return last, top
