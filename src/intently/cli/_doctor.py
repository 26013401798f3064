"""`intently doctor`: the store's health, read without opening an engine (so it works while a
server holds the store): log position, checkpoint lag, events set aside, outbox backlog."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from ._common import CONFIG, DB, JSON, emit_json, fail, settings

STUCK_S = 300.0
"""A pending message due longer ago than this means no dispatcher is delivering."""


def doctor(as_json: bool = JSON, db: str = DB, config: str = CONFIG) -> None:
    """Check the store's health: log position, checkpoint lag, events set aside, outbox
    backlog. Exits 1 when a check needs attention (for monitoring)."""
    from .._errors import IntentlyError
    from ..store import open_store, sealing_store

    s = settings(config, db=db)
    if "://" not in s.db and not Path(s.db).exists():
        fail(f"no store at {s.db}; ingest something first or pass --db")
    try:
        store = sealing_store(open_store(s.db, readonly=True), s.encryption_keys, True)
    except (IntentlyError, OSError, ValueError) as exc:
        fail(f"cannot open {s.db}: {exc}", 1)
        raise
    try:
        report = examine(store, time.time(), s.checkpoint_events)
    finally:
        store.close()
    if as_json:
        emit_json(report)
    else:
        _render(report)
    if not report["healthy"]:
        raise typer.Exit(1)


def examine(store: Any, now: float, checkpoint_events: int) -> dict[str, Any]:
    """The figures and, for each, whether it needs attention and why."""
    last, checkpointed = store.last_seq(), store.checkpoint_seq()
    lag = last - checkpointed
    aside = store.set_aside_events(limit=3)
    backlog = store.outbox_backlog(now)
    waiting = now - backlog.oldest_due if backlog.oldest_due is not None else 0.0
    checks = [
        _check("log", True, f"{last} events logged, {store.count_profiles()} records"),
        _check("checkpoint", lag <= 2 * checkpoint_events,
               f"{lag} events after the last checkpoint (seq {checkpointed}); a restart "
               "replays them" + ("" if lag <= 2 * checkpoint_events else
                                 f": more than twice checkpoint_events ({checkpoint_events})")),
        _check("set aside", not aside,
               f"{len(store.set_aside_seqs())} events set aside" + (
                   f"; newest: seq {aside[0].seq}: {aside[0].error}" if aside else "")
               + (" (intently events set-aside)" if aside else "")),
        _check("outbox", waiting <= STUCK_S,
               f"{backlog.due} messages due" + (
                   f", the oldest waiting {waiting:.0f} s: is a dispatcher running?"
                   if waiting > STUCK_S else "") + "; by status: " + (", ".join(
                       f"{k} {v}" for k, v in sorted(backlog.by_status.items())) or "none")),
    ]
    return {"store": store.url, "healthy": all(c["ok"] for c in checks), "checks": checks,
            "log_position": last, "checkpoint": checkpointed, "checkpoint_lag": lag,
            "outbox": backlog.by_status, "outbox_due": backlog.due}


def _check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"check": name, "ok": ok, "detail": detail}


def _render(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("check", "", "detail", title=f"intently doctor: {report['store']}")
    for c in report["checks"]:
        table.add_row(c["check"], "[green]ok[/]" if c["ok"] else "[bold red]attention[/]",
                      c["detail"])
    Console().print(table)
