"""A flood of batches for a server under test, from a process of its own (so that its client
threads do not share the measuring process's interpreter): `python -m
intently.benchmarks._flood PORT SECONDS` posts the simulator's events in batches of 100 from 8
threads to `/v1/batch` until they run out or the time is up, and prints the events per second
accepted."""

from __future__ import annotations

import sys

from ._data import shop_events
from .http import _load

CLIENTS = 8
BATCH = 100


def flood(port: int, seconds: float, users: int = 20_000, days: float = 10.0) -> float:
    events = shop_events(users, days, seed=3)
    bodies = [b'{"batch":[' + b",".join(events[i : i + BATCH]) + b"]}"
              for i in range(0, len(events), BATCH)]
    return _load(f"http://127.0.0.1:{port}/v1/batch", bodies, CLIENTS, seconds=seconds)


if __name__ == "__main__":
    print(round(flood(int(sys.argv[1]), float(sys.argv[2]))), flush=True)
