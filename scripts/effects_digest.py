"""What the realistic engine does to the simulator's traffic, as two digests: its scenario
journal and its outbox, after ingesting `shop_events(N, 2.0, seed=17)` and running every timer
to the end. Two builds that must behave the same (a change to when records are woken, say)
print the same digests; the record wakes show what the change saved.

    PYTHONPATH=<tree>/src .venv/bin/python scripts/effects_digest.py 10000
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from intently.benchmarks import realistic
from intently.benchmarks._data import shop_events
from intently.engine import ingest_file


def digest(rows: Sequence[tuple[object, ...]]) -> str:
    return hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()[:16]


def main(customers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        events = root / "events.jsonl"
        realistic._write(shop_events(customers, 2.0, seed=17), events)
        engine = realistic.realistic_engine(root / "store.db", max(1, customers // 10))
        ingest_file(engine, events)
        engine.checkpoint()
        engine.tick(2e9)  # every timer, to the end
        journal = [(r[0], r[4], round(r[5], 3)) for r in engine.store.journal(limit=10**8)]
        outbox = [(r[0], round(r[5], 3)) for r in engine.store.outbox(10**8)]
        wakes = getattr(engine.pipeline, "wakes", None)  # builds before fae1cd9 do not count
        engine.close()
    print(f"journal {len(journal)} rows {digest(journal)}; outbox {len(outbox)} messages "
          f"{digest(outbox)}; record wakes {wakes}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
