"""`intently serve`: the HTTP API on the embedded store."""

from __future__ import annotations

import typer

from .._errors import IntentlyError
from .._threads import tune_threads_for_serving
from ..app import Application
from ..config import Settings
from ._common import CONFIG, DB, err, guard, settings


def serve_cmd(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, help="Port to listen on"),
    write_key: list[str] = typer.Option(None, "--write-key", help="Accepted write key"),
    admin_key: list[str] = typer.Option(None, "--admin-key", help="Accepted admin key"),
    role: str = typer.Option(
        "all", help="all: everything in this process (embedded, or every cluster role with "
        "the dashboard); gateway, dashboard (a gateway that also serves the dashboard), "
        "worker, dispatcher: one cluster role (needs a stream: INTENTLY_STREAM)"),
    stream: str = typer.Option(None, help="NATS JetStream URL: run in cluster mode "
                               "(INTENTLY_STREAM)"),
    db: str = DB,
    config: str = CONFIG,
) -> None:
    """Serve the Segment-compatible API (/v1/track, /v1/batch, ...) and profile reads."""
    s = settings(config, db=db, write_keys=tuple(write_key) if write_key else None,
                 admin_keys=tuple(admin_key) if admin_key else None, stream=stream)
    if role not in ("all", "gateway", "dashboard", "worker", "dispatcher"):
        err.print(f"[red]--role {role}: use all, gateway, dashboard, worker or dispatcher[/]")
        raise typer.Exit(2)
    if s.stream:
        _serve_cluster(s, role, host, port)
        return
    if role != "all":
        err.print(f"[red]--role {role} is a cluster role: set a stream (--stream "
                  "nats://HOST:4222 or INTENTLY_STREAM) and a postgresql:// store[/]")
        raise typer.Exit(2)
    if not s.write_keys:
        err.print("[yellow]no write key configured: ingestion requests will be refused "
                  "(set INTENTLY_WRITE_KEYS or --write-key)[/]")
    err.print(f"Intently listening on http://{host}:{port}  (store: {s.db})")
    tune_threads_for_serving()
    try:
        Application.build(s).serve(host, port)
    except IntentlyError as exc:
        guard(exc)


def _serve_cluster(s: Settings, role: str, host: str, port: int) -> None:
    from .. import roles

    if not s.db.startswith(("postgresql://", "postgres://")):
        err.print("[red]cluster mode keeps its state in PostgreSQL: set the store to a "
                  "postgresql:// URL (--db or INTENTLY_DB)[/]")
        raise typer.Exit(2)
    err.print(f"Intently {role} (cluster: stream {s.stream}, store {s.db})")
    try:
        if role in ("gateway", "dashboard"):
            roles.serve_gateway(s, host, port, dashboard=role == "dashboard")
        elif role == "worker":
            roles.run_worker(s)
        elif role == "dispatcher":
            roles.run_dispatcher(s)
        else:
            roles.serve_all(s, host, port)
    except IntentlyError as exc:
        guard(exc)
