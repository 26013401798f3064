"""`intently serve`: the HTTP API on the embedded store."""

from __future__ import annotations

import typer

from .._errors import IntentlyError
from ..app import Application
from ._common import CONFIG, DB, err, guard, settings


def serve_cmd(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, help="Port to listen on"),
    write_key: list[str] = typer.Option(None, "--write-key", help="Accepted write key"),
    admin_key: list[str] = typer.Option(None, "--admin-key", help="Accepted admin key"),
    db: str = DB,
    config: str = CONFIG,
) -> None:
    """Serve the Segment-compatible API (/v1/track, /v1/batch, ...) and profile reads."""
    s = settings(config, db=db, write_keys=tuple(write_key) if write_key else None,
                 admin_keys=tuple(admin_key) if admin_key else None)
    if not s.write_keys:
        err.print("[yellow]no write key configured: ingestion requests will be refused "
                  "(set INTENTLY_WRITE_KEYS or --write-key)[/]")
    err.print(f"Intently listening on http://{host}:{port}  (store: {s.db})")
    try:
        Application.build(s).serve(host, port)
    except IntentlyError as exc:
        guard(exc)
