"""`intently events set-aside`: accepted events the pipeline failed on, with their errors."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from .._views import set_aside_view
from ._common import CONFIG, DB, JSON, emit_json, open_engine

app = typer.Typer(help="The event log: events set aside.", no_args_is_help=True)


@app.command("set-aside")
def set_aside(
    limit: int = typer.Option(100, help="How many, newest first"),
    as_json: bool = JSON,
    db: str = DB,
    config: str = CONFIG,
) -> None:
    """Events that were accepted and logged but that the pipeline failed on: kept with the
    error, skipped by replays, while the engine went on."""
    engine = open_engine(db, config, readonly=True, intent_model=False)
    try:
        rows = set_aside_view(engine, limit)
    finally:
        engine.close()
    if as_json:
        emit_json(rows)
        return
    if not rows:
        Console().print("no events set aside")
        return
    table = Table("seq", "set aside", "error", "event", title="events set aside")
    for r in rows:
        table.add_row(str(r["seq"]), r["set_aside_at"] or "", r["error"],
                      json.dumps(r["event"])[:120])
    Console().print(table)
