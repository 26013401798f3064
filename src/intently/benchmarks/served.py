"""`intently serve` as users run it, on a population ten times its record cache: the realistic
run's customers (built-in segments and the six scenarios on), their history ingested as live
traffic fills a store (each batch received when it happens), ending six hours before the
server starts; then those six hours of the same customers posted to `/v1/batch` by the
bench's clients, as SDKs send them, as fast as the server takes them (the timers due in those
hours fire as the server goes, as they would have live). The figures are the events/s the
server accepted and the same bodies' events/s into the floor app (`floor_app`), in the same
run.

The HTTP figures of `http` run on a few thousand customers, all of them cached: a cost that
grows with the population (a table read whole for each record merged away, stop 51) does not
show there."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec

from ..clock import ManualClock
from ..events import decode_batch, parse_timestamp
from ..testing import Shop, start_server
from ._client import KEY
from .http import _measure, _start_floor
from .realistic import realistic_engine

NEXT_DAYS = 0.25
"""The customers' next six hours: what the clients post ..."""
MAX_POSTED = 100_000
"""... their first this many events at most (a million customers' six hours take minutes)."""
BATCH = 100
CLIENTS = 8


def _history_and_next(users: int, days: float) -> tuple[list[bytes], list[bytes]]:
    """The simulator's `days`, and the `NEXT_DAYS` after them, ending a minute ago."""
    span = days + NEXT_DAYS
    start = time.time() - span * 86_400 - 60
    cut = start + days * 86_400
    encode = msgspec.json.encode
    history: list[bytes] = []
    later: list[bytes] = []
    for ev in Shop(users=users, days=span, seed=17, start=start).events():
        (history if parse_timestamp(ev["timestamp"]) < cut else later).append(encode(ev))
    return history, later


def fill_as_live(db: Path, cache: int, history: list[bytes]) -> None:
    """The store as live traffic fills it: the engine's clock at each batch's latest event."""
    clock = ManualClock(0.0)
    engine = realistic_engine(db, cache, clock)
    size = engine.settings.batch_size
    for start in range(0, len(history), size):
        events, kept = decode_batch(history[start:start + size], start)
        clock.set(max(clock.now(), *(ev.ts for ev in events)))
        engine.commit_batch(events, kept)
    engine.close()


def served(users: int, days: float, cache: int, root: Path) -> dict[str, Any]:
    """The figures `http_large_*`."""
    history, later = _history_and_next(users, days)
    later = later[:MAX_POSTED]
    fill_as_live(root / "served.db", cache, history)
    bodies = [b'{"batch":[' + b",".join(later[i:i + BATCH]) + b"]}"
              for i in range(0, len(later), BATCH)]
    floor = _measure(lambda port: _start_floor(root / "served-floor.db", port), bodies, CLIENTS)
    real = _measure(lambda port: start_server(
        root / "served.db", port, KEY, builtin_segments="true", cache_profiles=str(cache)),
        bodies, CLIENTS)
    return {"http_large_customers": users, "http_large_events": len(later),
            "http_large_floor_events_per_s": round(floor),
            "http_large_events_per_s": round(real),
            "http_large_vs_floor": round(real / floor, 3)}
