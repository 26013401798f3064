"""Thread-switch tuning for processes that run the pipeline.

CPython hands its GIL from a busy thread to a waiting one only every switch interval (5 ms by
default). The engine's thread is busy in Python nearly all the time, and the store's commit
thread (`store._sqlite_landing`) waits for the GIL once for each statement it runs: about a
dozen a group commit, so some 60 ms of waiting at 5 ms, while SQLite's own work takes less.
At 0.5 ms the commit thread writes and commits a batch while the engine runs the next one;
at the default, the engine writes its batch itself and hands over only the `COMMIT`
(`store._sqlite_landing.hands_over`).

A shorter interval also answers an HTTP request sooner while the engine's thread is busy, at
the cost of more switches when two threads both run Python (a few microseconds each).

Set only in a process that asked (`tune_threads`: the CLI, which owns its process); a program
embedding the engine decides for itself.
"""

from __future__ import annotations

import sys

SWITCH_INTERVAL_S = 0.0005


def tune_threads() -> None:
    """Let a waiting thread have the GIL after `SWITCH_INTERVAL_S`. Called by the CLI."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
