"""Full pipeline in-process against durable SQLite, next to the floor measured in the same run:
the same events only decoded and appended to the same log tables, nothing else."""

from __future__ import annotations

import gc
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import msgspec

from ..config import Settings
from ..engine import Engine
from ..events import Event
from ..profiles import decode_profile, encode_profile
from ..store import SQLiteStore


def floor(events: list[bytes], db: Path, batch_size: int) -> float:
    """Events/s to decode and durably append (the JSON as received, as the pipeline stores it),
    with group commit: the pipeline's ceiling."""
    store = SQLiteStore(db)
    decode = msgspec.json.Decoder(Event).decode
    started = time.perf_counter()
    seq = 0
    for start in range(0, len(events), batch_size):
        raws = events[start : start + batch_size]
        batch = [decode(raw) for raw in raws]
        with store.transaction() as tx:
            tx.claim([ev.message_id or "" for ev in batch], seq + 1)
            tx.append([(seq + 1 + i, str(ev.user_id or ev.anonymous_id or ""), ev.ts, 0.0, raw, 0)
                       for i, (ev, raw) in enumerate(zip(batch, raws, strict=True))])
        seq += len(batch)
    elapsed = time.perf_counter() - started
    store.close()
    return len(events) / elapsed


def pipeline(events: list[bytes], db: Path, settings: Settings) -> tuple[float, Engine]:
    """Events/s through the whole pipeline, including the checkpoint that makes the resulting
    state durable (the product's default checkpoint policy otherwise)."""
    engine = Engine(db, settings=settings)
    started = time.perf_counter()
    engine.process_many(events)
    engine.checkpoint()
    elapsed = time.perf_counter() - started
    return len(events) / elapsed, engine


def latency(events: list[bytes], db: Path, settings: Settings) -> tuple[float, float]:
    """Per-event latency (ms) when each event is committed on its own: submit to durable ack."""
    engine = Engine(db, settings=settings)
    samples = []
    for raw in events:
        t = time.perf_counter()
        engine.process(raw)
        samples.append((time.perf_counter() - t) * 1000)
    engine.close()
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


def _apply_us(events: list[bytes], make: Any, repeats: int) -> float:
    """Best per-event time of the in-memory pipeline (no storage) built by `make()`."""
    decoded = [msgspec.json.decode(raw) for raw in events]
    best = float("inf")
    for _ in range(repeats):
        engine = make()
        batch = [msgspec.convert(d, Event) for d in decoded]
        apply = engine.pipeline.apply
        started = time.perf_counter()
        for ev in batch:
            apply(ev)
        best = min(best, time.perf_counter() - started)
    return best / len(events) * 1e6


def segments_builtin_us(events: list[bytes], repeats: int = 3) -> float:
    """Per-event cost of running the nine built-in segments (entries, exits and timers): the
    in-memory pipeline with them on, minus off, alternating, best of `repeats` each."""
    from ..store import MemoryStore

    best = {True: float("inf"), False: float("inf")}
    for _ in range(repeats):
        for on in (True, False):
            best[on] = min(best[on], _apply_us(events, lambda on=on: Engine(  # type: ignore[misc]
                MemoryStore(), settings=Settings(builtin_segments=on)), 1))
    return max(0.0, best[True] - best[False])


def scenarios_idle_us(events: list[bytes], repeats: int = 2) -> float:
    """Per-event cost of the six ready-made scenarios on events that trigger nothing (no
    entry, step, message or journal row): each event is timed with scenarios on and off, and
    the difference averaged over the events that left the scenarios' effects as they were."""
    from ..scenarios import ready_made
    from ..store import MemoryStore

    decoded = [msgspec.json.decode(raw) for raw in events]
    best: dict[bool, list[float]] = {}
    idle: list[bool] = []
    for _ in range(repeats):
        for on in (True, False):
            engine = Engine(MemoryStore())
            if on:
                for scenario in ready_made().values():
                    engine.put_scenario(scenario)
            effects = engine.pipeline.scenarios.effects  # type: ignore[union-attr]
            batch = [msgspec.convert(d, Event) for d in decoded]
            for ev in batch:
                ev.received_at = ev.ts
            apply = engine.pipeline.apply
            clock = time.perf_counter
            times = []
            quiet = []
            for ev in batch:
                made = len(effects.messages) + len(effects.journal)
                started = clock()
                apply(ev)
                times.append(clock() - started)
                quiet.append(len(effects.messages) + len(effects.journal) == made)
            if on:
                idle = quiet
            seen = best.get(on)
            best[on] = times if seen is None else [min(a, b) for a, b in zip(seen, times,
                                                                               strict=True)]
    picked = [i for i, q in enumerate(idle) if q]
    if not picked:
        return 0.0
    diff = sum(best[True][i] - best[False][i] for i in picked) / len(picked)
    return max(0.0, diff * 1e6)


def intent_score_us(events: list[bytes], repeats: int = 3) -> float:
    """Scoring cost per event: the in-memory pipeline with the intent model on, minus off."""
    from ..store import MemoryStore

    decoded = [msgspec.json.decode(raw) for raw in events]
    best = {True: float("inf"), False: float("inf")}
    for _ in range(repeats):
        for scoring in (True, False):
            engine = Engine(MemoryStore(), intent_model=None if scoring else False)
            batch = [msgspec.convert(d, Event) for d in decoded]
            apply = engine.pipeline.apply
            started = time.perf_counter()
            for ev in batch:
                apply(ev)
            best[scoring] = min(best[scoring], time.perf_counter() - started)
    return max(0.0, (best[True] - best[False]) / len(events) * 1e6)


def bytes_per_profile(engine: Engine, sample: int = 5000) -> float:
    """Memory of cached records, by tracemalloc: decode `sample` records afresh and measure."""
    blobs = [encode_profile(p) for p in list(engine.hot_profiles())[:sample]]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    cache = {}
    for blob in blobs:
        profile = decode_profile(blob)
        cache[profile.id] = profile
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / max(1, len(cache))


def run(events: list[bytes], repeats: int = 1) -> dict[str, Any]:
    settings = Settings()
    best_floor = best_pipe = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            best_floor = max(best_floor, floor(events, Path(tmp) / f"floor{r}.db",
                                               settings.batch_size))
            rate, engine = pipeline(events, Path(tmp) / f"pipe{r}.db", settings)
            best_pipe = max(best_pipe, rate)
            if r == repeats - 1:
                profiles = engine.profiles_cached
                per_profile = bytes_per_profile(engine)
            engine.close()
        p50, p99 = latency(events[:2000], Path(tmp) / "latency.db", settings)
    score_us = intent_score_us(events[:50_000])
    segments_us = segments_builtin_us(events[:30_000])
    scenarios_us = scenarios_idle_us(events[:30_000])
    return {
        "events": len(events),
        "profiles": profiles,
        "pipeline_events_per_s": round(best_pipe),
        "floor_events_per_s": round(best_floor),
        "pipeline_vs_floor": round(best_pipe / best_floor, 3),
        "latency_p50_ms": round(p50, 3),
        "latency_p99_ms": round(p99, 3),
        "bytes_per_profile": round(per_profile),
        "intent_score_us": round(score_us, 3),
        "segments_builtin_us": round(segments_us, 3),
        "scenarios_idle_us": round(scenarios_us, 3),
    }
