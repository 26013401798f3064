"""Garbage-collector tuning for processes that run the pipeline.

Two costs of CPython's cycle collector fall on the pipeline:

- young collections: by default one every 700 allocations, and the pipeline allocates a few
  dicts an event without making reference cycles, so they find nothing. `tune_gc` makes
  them rarer.
- older generations: a record cache tracks a dozen or more objects a record (its arrays,
  lists and dicts, the record itself), and the cache's churn (records read in, others
  evicted) keeps them arriving there. At a million customers with 100,000 records cached,
  middle collections paused the engine for up to 850 ms each, and a full one walks all of it.

`Survivors` takes the second away: after each commit it freezes what survived
(`gc.freeze`), so later collections walk only what was allocated since. A frozen object is
still freed when its last reference goes (reference counting); only a cycle among frozen
objects stays, until a full collection. The pipeline makes no cycles, but other code does (an
exception held with its traceback, asyncio's tasks), so once a minute `Survivors` counts the
frozen objects (a walk of some 20 ms at a million customers) and collects in full when there
are twice as many per cached record as the fewest it counted since the last full collection:
what cycles hold never grows past what the cache holds.

Both act only in a process that asked for them (`tune_gc`: the CLI, which owns its process); a
program embedding the engine decides for itself.
"""

from __future__ import annotations

import gc
import logging
import math
import time
from collections.abc import Callable

_log = logging.getLogger("intently.engine")

_tuned = False
CHECK_SECONDS = 60.0
"""How often `Survivors` counts the frozen objects."""
FEWEST_RECORDS = 1_000
"""Counts per cached record are taken over at least this many records (an engine starting,
or just reloaded, holds few)."""


def tune_gc() -> None:
    """Collect young objects less often, and let engines freeze what survives their commits
    (`Survivors`). Called by the CLI, which owns the process."""
    global _tuned
    gc.set_threshold(50_000, 20, 100)
    _tuned = True


class Survivors:
    """Freezes the objects that survive each commit, and collects in full only when frozen
    cycles may have grown to matter (see the module's notes)."""

    def __init__(self, enabled: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`enabled`: None follows `tune_gc`."""
        self.enabled = _tuned if enabled is None else enabled
        self._clock = clock
        self._next_count = clock() + CHECK_SECONDS
        self._fewest = math.inf  # frozen objects per cached record, fewest since a full collection
        self.full_collections = 0

    def freeze(self, records: int) -> None:
        """After a commit (and its evictions): freeze what survived; `records`: how many
        records the engine caches."""
        if not self.enabled:
            return
        gc.freeze()
        now = self._clock()
        if now < self._next_count:
            return
        self._next_count = now + CHECK_SECONDS
        per_record = gc.get_freeze_count() / max(records, FEWEST_RECORDS)
        if per_record <= 2 * self._fewest:
            self._fewest = min(self._fewest, per_record)
            return
        started = time.perf_counter()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self._fewest = gc.get_freeze_count() / max(records, FEWEST_RECORDS)
        self.full_collections += 1
        _log.info("frozen objects per cached record doubled: collected them in full", extra={
            "unreachable": found, "seconds": round(time.perf_counter() - started, 3),
            "records": records})

    def thaw(self) -> None:
        """When the engine closes: hand everything frozen back to the collector, since cycles
        among the engine's own objects hold what it cached."""
        if self.enabled:
            gc.unfreeze()
