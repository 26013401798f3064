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

err = Console(stderr=True)


def settings(config: str | None, **overrides: Any) -> Settings:
    try:
        return Settings.load(config, **overrides)
    except (ValueError, OSError) as exc:
        fail(f"bad settings: {exc}")
        raise  # unreachable


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def guard(exc: IntentlyError) -> None:
    fail(str(exc), 1)
