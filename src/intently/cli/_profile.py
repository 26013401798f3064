"""`intently profile ID`: one customer's golden record and timeline."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from .._errors import IntentlyError
from .._views import profile_view
from ..engine import Engine
from ._common import CONFIG, DB, JSON, emit_json, fail, guard, settings


def profile(
    identifier: str = typer.Argument(..., help="Record id, userId, anonymousId or email"),
    timeline: int = typer.Option(30, help="How many recent events to show"),
    as_json: bool = JSON,
    db: str = DB,
    config: str = CONFIG,
) -> None:
    """Show a customer's golden record: identities, aggregates, journey and timeline."""
    s = settings(config, db=db)
    if "://" not in s.db and not Path(s.db).exists():
        fail(f"no store at {s.db}; ingest something first or pass --db")
    try:
        engine = Engine(settings=s, readonly=True)
        view = profile_view(engine, engine.profile(identifier), timeline)
    except IntentlyError as exc:
        guard(exc)
        return
    if as_json:
        emit_json(view)
        return
    _render(view)


def _render(view: dict) -> None:  # type: ignore[type-arg]
    console = Console()
    agg = view["aggregates"]
    console.print(f"[bold]{view['id']}[/]  user: {view['user_id'] or '—'}  "
                  f"identities: {', '.join(view['identities'])}")
    console.print(f"seen {view['first_seen']} → {view['last_seen']}   events {agg['events']}  "
                  f"sessions {agg['sessions']}  orders {agg['orders']}  revenue {agg['revenue']}")
    if view["traits"]:
        console.print(f"traits: {view['traits']}")
    if view["consents"]:
        console.print(f"consents: {view['consents']}")
    console.print(f"categories: {agg['categories']}   channels: {agg['channels']}")
    journey = view["journey"]
    console.print(f"journey since {journey['started']}  entry: {journey['entry_point']}")
    key = (journey["key_action"] or {}).get("signal")
    detail = (journey["key_action"] or {}).get("detail")
    if detail:
        console.print(f"key action: {detail}")
    console.print("chain: " + " → ".join(
        f"[bold green]{step['signal']}[/]" if step["signal"] == key else step["signal"]
        for step in journey["chain"]))
    cluster = journey["cluster"] or {}
    console.print(f"intent {journey['intent']:.0%}  key action: {key or '-'}  "
                  f"cluster: {cluster.get('name', '-')}  (model {journey['intent_model']})")
    table = Table("time", "type", "event", "properties", title="timeline (newest first)")
    for ev in view["timeline"]:
        props = ", ".join(f"{k}={v}" for k, v in list(ev.get("properties", {}).items())[:4])
        table.add_row(ev["at"], ev.get("type", "track"), ev.get("event") or "", props)
    console.print(table)
