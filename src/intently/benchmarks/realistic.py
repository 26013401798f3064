"""What users run: the built-in segments and the six ready-made scenarios on, a population ten
times the record cache, events read from a JSONL file as `intently ingest` reads them. Each
figure is next to its floor, measured in the same run:

- `realistic_file_events_per_s` against `file_floor_events_per_s`: the same file read line by
  line, decoded and appended to SQLite with fsync, in the same group commits;
- the same pipeline on a small population (everything cached), for the cost of size: the
  median of three runs, since one takes only seconds;
- the records woken by their timers (segments that time moves, scenario waits and steps):
  each is a record read, and written after, that no event asked for;
- the longest checkpoint during ingest (records written with a commit, or all at once when
  those fall behind; the final one is in events/s), the longest group commit (its fsync and
  the records it carried included): the pauses in ingest; and the
  process's memory growth, in all and per customer (the cache, every customer's timers,
  SQLite's page cache);
- where the time goes: microseconds per event in each part of the group commits (the
  runner's `COMMIT_PARTS`), on both populations, so what grows with size shows;
- a segment added to the large store while events arrive (`walks`);
- `intently serve` on a store of the large population, over HTTP (`served`)."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from ..clock import Clock
from ..config import Settings
from ..engine import COMMIT_PARTS, Engine, ingest_file
from ..events import Event
from ..scenarios import ready_made
from ..store import SQLiteStore
from ._data import shop_events
from .walks import walk_under_ingest


def _write(events: list[bytes], path: Path) -> None:
    with path.open("wb") as f:
        for raw in events:
            f.write(raw + b"\n")


def _rss() -> int:
    """This process's resident anonymous memory (its heap, not the pages of files it maps,
    such as the store's), in bytes, after a collection and after returning free heap pages
    to the system (so it counts what is held, not what was once used)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


def file_floor(path: Path, db: Path, batch_size: int) -> float:
    """Events/s to read the file's lines, decode them and append them durably (group commits
    of the pipeline's size): what ingesting the file cannot beat."""
    store = SQLiteStore(db)
    decode = msgspec.json.Decoder(Event).decode
    started = time.perf_counter()
    n = 0
    with path.open("rb") as f:
        while True:
            raws = [line.rstrip(b"\n") for _, line in zip(range(batch_size), f, strict=False)]
            if not raws:
                break
            batch = [decode(raw) for raw in raws]
            with store.transaction() as tx:
                first = tx.next_seq()
                tx.claim([ev.message_id or "" for ev in batch], first)
                tx.append([(first + i, str(ev.user_id or ev.anonymous_id or ""), ev.ts, 0.0,
                            raw, 0) for i, (ev, raw) in enumerate(zip(batch, raws, strict=True))])
            n += len(batch)
    elapsed = time.perf_counter() - started
    store.close()
    for written in db.parent.glob(db.name + "*"):  # the database, its WAL and index files
        written.unlink()
    return n / elapsed


def realistic_engine(db: Path, cache: int, clock: Clock | None = None) -> Engine:
    engine = Engine(db, settings=Settings(db=str(db), builtin_segments=True,
                                          cache_profiles=cache), clock=clock)
    for scenario in ready_made().values():
        engine.put_scenario(scenario)
    return engine


def ingest(path: Path, db: Path, cache: int) -> dict[str, Any]:
    """Ingest the file into a realistic engine: events/s (the final checkpoint included), the
    longest checkpoint, and the process's growth per cached record."""
    gc.collect()
    before = _rss()
    engine = realistic_engine(db, cache)
    started = time.perf_counter()
    result = ingest_file(engine, path)
    engine.checkpoint()
    elapsed = time.perf_counter() - started
    gc.collect()
    growth = _rss() - before
    figures = {"events_per_s": result.accepted / elapsed,
               "checkpoint_max_ms": engine.checkpoint_seconds_max * 1000,
               "commit_max_ms": engine.commit_seconds_max * 1000,
               "rss_growth": growth, "cached": engine.profiles_cached,
               "messages": engine.messages_queued, "wakes": engine.pipeline.wakes,
               "us_by_part": {part: round(engine.seconds_in[part] / max(1, result.accepted) * 1e6,
                                          1) for part in COMMIT_PARTS}}
    engine.close()
    return figures


def run(quick: bool, customers: int | None = None) -> dict[str, Any]:
    """The realistic figures: 50,000 customers against 5,000 with `quick`, else a million
    against 10,000; `customers`: that many against 10,000, over a day (the sizes between)."""
    large_users, small_users, days = (50_000, 5_000, 2.0) if quick else (1_000_000, 10_000, 1.0)
    if customers is not None:
        large_users, small_users, days = customers, 10_000, 1.0
    cache = large_users // 10
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        large, small = root / "large.jsonl", root / "small.jsonl"
        events = shop_events(large_users, days, seed=17)
        n_large = len(events)
        _write(events, large)
        _write(shop_events(small_users, days, seed=17), small)
        del events
        # the floor on both sides of the large run, so that a machine drifting while it runs
        # (this one swings by a third within the hour) moves the floor as it moves the run
        floors = [file_floor(large, root / "floor.db", Settings().batch_size)]
        big = ingest(large, root / "large.db", cache)
        floors.append(file_floor(large, root / "floor2.db", Settings().batch_size))
        floor = sum(floors) / 2
        # the small run takes seconds, so one run swings with the machine (11,000 to 17,000
        # events/s at 10,000 customers): the median of three is the reference
        smalls = sorted((ingest(small, root / f"small{i}.db", cache) for i in range(3)),
                        key=lambda r: float(r["events_per_s"]))
        little = smalls[1]
        walk = walk_under_ingest(lambda clock: realistic_engine(root / "large.db", cache, clock),
                                 large_users, days)
        from .served import served  # (which builds its engine as `realistic_engine` does)

        server = served(large_users, days, cache, root)
    return {
        "realistic_customers": large_users,
        "realistic_cache_profiles": cache,
        "realistic_events": n_large,
        "realistic_file_events_per_s": round(big["events_per_s"]),
        "file_floor_events_per_s": round(floor),
        "file_floor_runs_events_per_s": [round(f) for f in floors],
        "realistic_file_vs_floor": round(big["events_per_s"] / floor, 3),
        "realistic_small_population_events_per_s": round(little["events_per_s"]),
        "realistic_small_population_runs_events_per_s": [round(r["events_per_s"])
                                                         for r in smalls],
        "realistic_large_vs_small_population": round(
            big["events_per_s"] / little["events_per_s"], 3),
        "realistic_checkpoint_max_ms": round(big["checkpoint_max_ms"], 1),
        "realistic_commit_max_ms": round(big["commit_max_ms"], 1),
        "realistic_rss_growth_mb": round(big["rss_growth"] / 2**20, 1),
        "realistic_rss_bytes_per_customer": round(big["rss_growth"] / large_users),
        "realistic_messages_queued": int(big["messages"]),
        "realistic_timer_wakes": int(big["wakes"]),
        "realistic_us_per_event_by_part": big["us_by_part"],
        "realistic_small_population_us_per_event_by_part": little["us_by_part"],
        **walk,
        **server,
    }
