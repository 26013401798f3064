"""What the dashboard reads: the overview, the live feed (JSON and server-sent events), a
customer's scores over time and messages, segment composition, signal paths, the RFM grid and
scenario funnels. Every route needs an admin key or the dashboard's session."""

from __future__ import annotations

import asyncio
import heapq
import json
from collections import Counter
from collections.abc import AsyncIterator
from itertools import pairwise
from typing import Any

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from .._errors import NotFound
from ..engine import Engine, replay
from ..profiles import Profile, lifecycle
from ..scenarios import to_yaml
from ._auth import authorize
from ._deps import on_engine, services

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"])
ACTIVE_S = 1800.0


async def _on_engine(request: Request, fn: Any) -> Any:
    svc = services(request)
    svc.hub.attach(svc.worker.engine)  # the live hub listens from the first dashboard read on
    return await on_engine(request, fn)


def customer_row(engine: Engine, p: Profile, trajectory: list[dict[str, Any]]
                 ) -> dict[str, Any]:
    chain = list(zip(p.chain[-12:], p.chain_ts[-12:], strict=True))
    return {"id": p.id, "user_id": p.user_id, "email": p.traits.get("email"),
            "name": p.traits.get("name") or p.traits.get("first_name"),
            "last_seen": p.last_seen, "journey_start": p.journey_start,
            "chain": [{"signal": s, "ts": t} for s, t in chain],
            "intent": round(p.intent, 4), "key_action": p.key_action, "key_ts": p.key_ts,
            "key_detail": p.key_detail(),
            "key_delta": round(p.key_delta, 4), "cluster": p.cluster,
            "entry": p.entry.to_dict(), "segments": list(p.segments), "orders": p.orders,
            "revenue": round(p.revenue, 2), "trajectory": trajectory}


def _matches(p: Profile, segment: str | None, cluster: str | None, min_intent: float) -> bool:
    return (p.intent >= min_intent and (segment is None or segment in p.segments)
            and (cluster is None or p.cluster == cluster))


@router.get("/feed", summary="The most recently active customers, filtered")
async def feed(request: Request, limit: int = Query(40, ge=1, le=200),
               segment: str | None = None, cluster: str | None = None,
               min_intent: float = Query(0.0, ge=0.0, le=1.0)) -> dict[str, Any]:
    authorize(request)
    hub = services(request).hub

    def read(engine: Engine) -> dict[str, Any]:
        recent = heapq.nlargest(limit, (p for p in engine.hot_profiles()
                                        if _matches(p, segment or None, cluster or None,
                                                    min_intent)),
                                key=lambda p: p.last_seen)
        return {"now": engine.clock.now(),
                "customers": [customer_row(engine, p, hub.trajectory(p.id)) for p in recent]}

    return await _on_engine(request, read)  # type: ignore[no-any-return]


@router.get("/stream", summary="Server-sent events: customers as they move, and counters")
async def stream(request: Request, interval: float = Query(0.5, ge=0.1, le=10.0)
                 ) -> StreamingResponse:
    authorize(request)
    svc = services(request)
    hub = svc.hub
    hub.attach(svc.worker.engine)
    token = hub.subscribe()

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 2000\n\n"
            while not await request.is_disconnected():
                moved = hub.take(token)

                def read(engine: Engine, moved: set[str] = moved) -> dict[str, Any]:
                    found = [p for p in (engine.peek(pid) for pid in moved) if p]
                    found = heapq.nlargest(60, found, key=lambda p: p.last_seen)
                    return {"now": engine.clock.now(), "events": engine.events_processed,
                            "messages": engine.messages_queued,
                            "customers": [customer_row(engine, p, hub.trajectory(p.id))
                                          for p in found]}

                data = await asyncio.wrap_future(svc.worker.call(read))
                yield b"data: " + msgspec.json.encode(data) + b"\n\n"
                await asyncio.sleep(interval)
        finally:
            hub.unsubscribe(token)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


@router.get("/overview", summary="Counters and the key actions that precede purchases")
async def overview(request: Request) -> dict[str, Any]:
    authorize(request)

    def read(engine: Engine) -> dict[str, Any]:
        now = engine.clock.now()
        profiles = list(engine.hot_profiles())
        active = sum(1 for p in profiles if now - p.last_seen <= ACTIVE_S)
        keys: Counter[str] = Counter()
        clusters: Counter[str] = Counter()
        for p in profiles:
            if p.key_action and "purchased" in p.chain:
                keys[p.key_action] += 1
            if p.cluster and now - p.last_seen <= ACTIVE_S:
                clusters[p.cluster] += 1
        messages: Counter[str] = Counter()
        for name in engine.scenario_definitions:
            for (_, status), n in engine.read_models.outbox_counts(name).items():
                messages[status] += n
        return {"now": now, "events": engine.events_processed,
                "events_stored": engine.events_stored(), "customers": len(profiles),
                "events_set_aside": engine.events_set_aside,
                "active": active, "orders": sum(p.orders for p in profiles),
                "revenue": round(sum(p.revenue for p in profiles), 2),
                "messages": dict(messages), "messages_total": sum(messages.values()),
                "key_actions_before_purchase": keys.most_common(8),
                "active_clusters": clusters.most_common(8),
                "segments": engine.read_models.segment_sizes()}

    return await _on_engine(request, read)  # type: ignore[no-any-return]


def intent_history(engine: Engine, p: Profile, limit: int = 300) -> list[dict[str, Any]]:
    """The purchase probability after each of the customer's recent events, replayed from the
    log through the model in use (exact, whatever the dashboard saw live)."""
    events = list(reversed(engine.timeline(p, limit)))
    if not events or engine.intent is None:
        return []
    done = replay(events, engine.settings, intent_model=engine.intent.model,
                  vocabulary=engine.vocabulary, clock=engine.clock)
    return [{"ts": d.event.ts, "intent": round(d.intent, 4),
             "signal": d.signals[0] if d.signals else (d.event.event or ""),
             "event": d.event.event or d.event.type} for d in done]


@router.get("/customers/{identifier}", summary="Scores over time, messages and their outcomes")
async def customer(request: Request, identifier: str) -> dict[str, Any]:
    authorize(request)

    def read(engine: Engine) -> dict[str, Any]:
        p = engine.profile(identifier)
        outbox = engine.read_models.outbox(50, profile_id=p.id)
        journal = engine.read_models.journal(profile_id=p.id, limit=200,
                                             heads=[int(p.journal_head)])
        outcomes: dict[str, list[str]] = {}
        for row in journal:
            if row.kind in ("opened", "clicked"):
                outcomes.setdefault(row.ref, []).append(row.kind)
        messages = []
        for m in outbox:
            msg = msgspec.json.decode(m.body)
            messages.append({"id": m.id, "scenario": m.scenario, "arm": m.arm,
                             "channel": m.channel, "due": m.due, "status": m.status,
                             "subject": msg.get("subject", ""),
                             "outcomes": sorted(set(outcomes.get(m.id, [])))})
        journeys = [{"scenario": r.scenario, "arm": r.arm, "kind": r.kind, "ts": r.ts,
                     "value": r.value, "ref": r.ref} for r in journal
                    if r.kind in ("entered", "converted", "suppressed", "exited")][:50]
        return {"row": customer_row(engine, p, []), "scores": intent_history(engine, p),
                "lifecycle": lifecycle(p, engine.clock.now()), "messages": messages,
                "journeys": journeys}

    return await _on_engine(request, read)  # type: ignore[no-any-return]


@router.get("/segments/{name}/composition", summary="Who is in a segment")
async def composition(request: Request, name: str) -> dict[str, Any]:
    authorize(request)

    def read(engine: Engine) -> dict[str, Any]:
        if name not in engine.segment_definitions:
            raise NotFound(f"no segment {name!r}")
        now = engine.clock.now()
        members = [p for p in engine.hot_profiles() if name in p.segments]
        clusters = Counter(p.cluster or "none" for p in members)
        stages = Counter(lifecycle(p, now) for p in members)
        n = len(members) or 1
        return {"segment": name, "members": len(members),
                "clusters": clusters.most_common(6), "lifecycle": stages.most_common(),
                "average_intent": round(sum(p.intent for p in members) / n, 4),
                "average_revenue": round(sum(p.revenue for p in members) / n, 2),
                "sample": [customer_row(engine, p, []) for p in heapq.nlargest(
                    8, members, key=lambda p: p.last_seen)]}

    return await _on_engine(request, read)  # type: ignore[no-any-return]


@router.get("/paths", summary="Signal transitions, the RFM grid and the basket rules")
async def paths(request: Request) -> dict[str, Any]:
    authorize(request)

    def read(engine: Engine) -> dict[str, Any]:
        now = engine.clock.now()
        pairs: Counter[tuple[str, str]] = Counter()
        seen: Counter[str] = Counter()
        bought: Counter[str] = Counter()
        grid: Counter[tuple[int, int]] = Counter()
        for p in engine.hot_profiles():
            chain = p.chain
            for a, b in pairwise(chain):
                if a != b:
                    pairs[(a, b)] += 1
            signals = set(chain)
            for s in signals:
                seen[s] += 1
                if "purchased" in signals and s != "purchased":
                    bought[s] += 1
            if engine.rfm is not None and p.orders:
                score = engine.rfm.score(p, now)
                if score is not None:
                    data = score.to_json()
                    grid[(int(data["r"]), int(data["f"]))] += 1
        return {
            "transitions": [{"from": a, "to": b, "count": n}
                            for (a, b), n in pairs.most_common(40)],
            "signals": [{"signal": s, "journeys": n,
                         "purchase_rate": round(bought[s] / n, 4) if n else 0.0}
                        for s, n in seen.most_common() if s != "purchased"],
            "rfm": [{"r": r, "f": f, "customers": n} for (r, f), n in sorted(grid.items())],
            "rfm_ready": engine.rfm is not None,
            "rules": [r.to_json() for r in engine.decider.rules[:100]],
        }

    return await _on_engine(request, read)  # type: ignore[no-any-return]


@router.get("/scenarios/{name}/funnel", summary="Entries, each step's sends, conversions")
async def funnel(request: Request, name: str) -> dict[str, Any]:
    authorize(request)

    def read(engine: Engine) -> dict[str, Any]:
        scenario = engine.scenario_definitions.get(name)
        if scenario is None:
            raise NotFound(f"no scenario {name!r}")
        steps: dict[int, Counter[str]] = {}
        totals: Counter[str] = Counter()
        for row in engine.read_models.journal(scenario=name, limit=100_000):
            kind = row.kind
            totals[kind] += 1
            if kind in ("sent", "suppressed", "failed"):
                step = int(row.id.rsplit("/", 2)[-2])
                steps.setdefault(step, Counter())[kind] += 1
        labels = []
        for i, st in enumerate(scenario.steps):
            what = st.action + (f" · {st.args.get('channel')}" if st.action == "send" else "")
            labels.append({"step": i, "id": st.label, "action": what,
                           **dict(steps.get(i, Counter()))})
        return {"scenario": name, "entered": totals["entered"],
                "converted": totals["converted"], "steps": labels,
                "definition": json.loads(json.dumps(scenario.to_json())),
                "yaml": to_yaml(scenario)}

    return await _on_engine(request, read)  # type: ignore[no-any-return]
