"""The demo's live terminal view: throughput, active customers and what the top ones do."""

from __future__ import annotations

import heapq
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import msgspec
from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from ..engine import Engine
from ..events import isoformat


@dataclass
class Snapshot:
    events: int
    stored: int
    profiles: int
    active: int
    orders: int
    revenue: float
    top: list[dict[str, Any]] = field(default_factory=list)
    segments: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    outbox: list[dict[str, Any]] = field(default_factory=list)


def snapshot(engine: Engine, active_window_s: float = 1800.0, top: int = 12) -> Snapshot:
    """Read on the engine thread (via `EngineWorker.call`)."""
    profiles = list(engine.hot_profiles())
    now = max((p.last_seen for p in profiles), default=0.0)
    active = sum(1 for p in profiles if now - p.last_seen <= active_window_s)
    recent = heapq.nlargest(top, profiles, key=lambda p: p.last_seen)
    rows = [{
        "id": p.id, "user": p.user_id or "anonymous", "last": p.last_seen,
        "chain": p.chain[-5:], "orders": p.orders, "revenue": p.revenue,
        "intent": p.intent, "key": p.key_action, "cluster": p.cluster or "",
        "sessions": p.sessions, "entry": p.entry.source or p.entry.channel,
    } for p in recent]
    sizes: dict[str, int] = {name: 0 for name in engine.segment_definitions}
    for p in profiles:
        for name in p.segments:
            if name in sizes:
                sizes[name] += 1
    outbox = [{"due": m.due, "scenario": m.scenario, "arm": m.arm, "channel": m.channel,
               "status": m.status, "customer": m.profile_id,
               "subject": msgspec.json.decode(m.body).get("subject", "")}
              for m in engine.read_models.outbox(6)] if bool(engine.scenario_definitions) else []
    return Snapshot(engine.events_processed, engine.last_seq, len(profiles), active,
                    sum(p.orders for p in profiles), sum(p.revenue for p in profiles), rows,
                    sizes, engine.messages_queued, outbox)


def _bar(p: float) -> str:
    color = "green" if p >= 0.6 else "yellow" if p >= 0.3 else "red"
    return f"[{color}]{p:4.0%} {'█' * round(p * 8):<8}[/]"


class LiveView:
    def __init__(self, title: str) -> None:
        self.title = title
        self.samples: deque[tuple[float, int]] = deque(maxlen=20)

    def render(self, snap: Snapshot, footer: str = "") -> Group:
        now = time.monotonic()
        self.samples.append((now, snap.events))
        t0, n0 = self.samples[0]
        rate = (snap.events - n0) / (now - t0) if now > t0 else 0.0
        head = Table.grid(padding=(0, 3))
        head.add_row(f"[bold]{rate:,.0f}[/] events/s", f"[bold]{snap.events:,}[/] events",
                     f"[bold]{snap.active:,}[/] active (30 min)",
                     f"[bold]{snap.profiles:,}[/] golden records",
                     f"[bold]{snap.orders:,}[/] orders", f"[bold]{snap.revenue:,.0f}[/] revenue",
                     f"[bold]{snap.messages:,}[/] messages")
        table = Table(expand=True, title="most recently active customers")
        for col in ("customer", "last event", "entry", "last signals", "intent", "key action",
                    "cluster", "orders"):
            table.add_column(col, overflow="fold")
        for row in snap.top:
            chain = " → ".join(f"[bold]{s}[/]" if s == row["key"] else s for s in row["chain"])
            table.add_row(f"{row['id']}\n[dim]{row['user']}[/]", isoformat(row["last"])[5:16],
                          row["entry"], chain, _bar(row["intent"]), row["key"] or "",
                          row["cluster"], str(row["orders"]))
        parts: list[Any] = [Panel(head, title=self.title)]
        if snap.segments:
            parts.append("segments: " + "   ".join(
                f"{name} [bold]{n}[/]" for name, n in snap.segments.items()))
        parts.append(table)
        if snap.outbox:
            sent = Table(expand=True, title="latest scenario messages (outbox)")
            for col in ("due", "scenario", "arm", "channel", "customer", "subject", "status"):
                sent.add_column(col, overflow="fold")
            for m in snap.outbox:
                sent.add_row(isoformat(m["due"])[5:16], m["scenario"], m["arm"], m["channel"],
                             m["customer"], m["subject"], m["status"])
            parts.append(sent)
        return Group(*parts, footer)
