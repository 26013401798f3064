"""Options and helpers every command shares."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from .._errors import IntentlyError
from ..config import Settings

DB = typer.Option(None, "--db", help="Store path or URL [default: intently.db, INTENTLY_DB]")
CONFIG = typer.Option(None, "--config", help="Settings file [default: ./intently.toml]")
JSON = typer.Option(False, "--json", help="Print machine-readable JSON")
MAP = typer.Option(None, "--map", help="Property from a column: field=column (repeatable)")

err = Console(stderr=True)


def settings(config: str | None, **overrides: Any) -> Settings:
    try:
        return Settings.load(config, **overrides)
    except (ValueError, OSError) as exc:
        fail(f"bad settings: {exc}")
        raise  # unreachable


def map_pairs(values: list[str] | None) -> dict[str, str]:
    """`--map field=column` options as {field: column}."""
    out = {}
    for item in values or []:
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            fail(f"--map takes field=column, got {item!r}")
        out[name.strip()] = column.strip()
    return out


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def guard(exc: IntentlyError) -> None:
    fail(str(exc), 1)


def open_engine(db: str | None, config: str | None, *, readonly: bool = False,
                must_exist: bool = True, intent_model: bool | None = None) -> Any:
    """The engine on the configured store, or a clear exit: no store there yet (when
    `must_exist`), another writer holding it, bad settings."""
    from pathlib import Path

    from ..engine import Engine

    s = settings(config, db=db)
    if (readonly or must_exist) and "://" not in s.db and not Path(s.db).exists():
        fail(f"no store at {s.db}; ingest something first or pass --db")
    try:
        return Engine(settings=s, readonly=readonly, intent_model=intent_model)
    except IntentlyError as exc:
        guard(exc)
        raise


def cli_actor() -> str:
    """Who runs this command, for the journal: `cli:<system user>`."""
    import getpass

    return f"cli:{getpass.getuser()}"


def in_cluster(db: str | None, config: str | None) -> Settings | None:
    """The settings, when they name a cluster's stream (a change then goes through it to
    every partition); None in embedded mode."""
    s = settings(config, db=db)
    return s if s.stream else None


def cluster_define(cluster: Settings, kind: str, changes: list[tuple[str, Any]]) -> None:
    """Send segment or scenario changes to every partition of a running cluster, and say
    so."""
    from ..roles import cluster_define as define

    try:
        answers = define(cluster, kind, changes, cli_actor())
    except IntentlyError as exc:
        guard(exc)
        return
    for a in answers:
        err.print(f"{kind} {a['name']!r}: sent to {a['partitions']} partitions, each applies "
                  f"it in order with its events (request {a['request']})")

