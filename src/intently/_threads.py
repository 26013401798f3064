"""Thread-switch tuning for processes that run the pipeline.

CPython hands its GIL from a busy thread to a waiting one only every switch interval (5 ms by
default). The engine's thread is busy in Python nearly all the time, and the store's commit
thread (`store._sqlite_landing`) waits for the GIL once for each statement it runs: about a
dozen a group commit, so some 60 ms of waiting at 5 ms, while SQLite's own work takes less.
At 0.5 ms the commit thread writes and commits a batch while the engine runs the next one;
at the default, the engine writes its batch itself and hands over only the `COMMIT`
(`store._sqlite_landing.hands_over`).

The cost is more switches while two threads both run Python. A server tuned so answered
`/v1/decide` from clients in another process as before (the same receipts a second, 99th
percentile 9.3-12.1 ms against 9.8-12.1, three runs each); clients in the tuned process
itself measured themselves slower (`cpython_switching`).

Set only in a process that asked (`tune_threads`: the CLI, which owns its process); a program
embedding the engine decides for itself.

`intently serve` puts CPython's own interval back (`tune_threads_for_serving`): its engine's
thread writes each batch itself (`EngineWorker`: clients wait on each commit), so the short
interval buys the commit thread nothing there, and it costs the event loop's thread a switch
every 0.5 ms against the engine's. One event a request from `wrk` (64 connections): 7,335-7,653
events/s at 0.5 ms against 9,072-9,219 at 5 ms; batches of 100 and the realistic server moved
within their noise (three runs each alternated, 2026-12-07), and `/v1/decide` answered about
as fast while batches poured in (p50 6.1 against 5.3 ms, p99 14.0 against 15.3, once each).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

SWITCH_INTERVAL_S = 0.0005
CPYTHON_SWITCH_INTERVAL_S = 0.005


def tune_threads() -> None:
    """Let a waiting thread have the GIL after `SWITCH_INTERVAL_S`. Called by the CLI."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def tune_threads_for_serving() -> None:
    """CPython's own switch interval, for `intently serve` (see the module's note)."""
    sys.setswitchinterval(CPYTHON_SWITCH_INTERVAL_S)


@contextmanager
def cpython_switching() -> Iterator[None]:
    """CPython's own switch interval meanwhile: for the bench's load clients, threads of the
    bench's process that stand for clients elsewhere (at 0.5 ms, eight of them doubled the
    99th percentile they measured, not the server's)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(CPYTHON_SWITCH_INTERVAL_S)
    try:
        yield
    finally:
        sys.setswitchinterval(before)
