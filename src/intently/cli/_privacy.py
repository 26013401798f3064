"""`intently privacy ...`: erase a person, export what is held on them, suppress or lift their
identifiers, and read the privacy journal. Each verb writes to the store, so it runs where no
server holds the store (or use the server's `/v1/privacy/*` routes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .._errors import IntentlyError
from ..config import Settings
from ._common import (
    CONFIG,
    DB,
    JSON,
    cli_actor,
    emit_json,
    err,
    fail,
    guard,
    open_engine,
    settings,
)

app = typer.Typer(help="Privacy: erasure, export, suppression and the privacy journal.",
                  no_args_is_help=True)

IDENTIFIER = typer.Argument(..., help="userId, anonymousId, email, phone or record id")
ACTOR = typer.Option(None, help="Who asks (journaled); default: the system user")


def _actor(actor: str | None) -> str:
    return actor or cli_actor()


@app.command("erase")
def erase(
    identifier: str = IDENTIFIER,
    keep_ingesting: bool = typer.Option(
        False, "--keep-ingesting", help="Do not suppress the person's identifiers: their next "
        "events are ingested again (by default they are dropped)"),
    vacuum: bool = typer.Option(False, help="Also rewrite the SQLite file (for files written "
                                "before secure deletion was on; slow on a large store)"),
    actor: str | None = ACTOR,
    as_json: bool = JSON,
    db: str = DB,
    config: str = CONFIG,
) -> None:
    """Delete everything held on a person: record, identities, merges, segments, timers,
    events, messages and journal rows. Their identifiers are suppressed."""
    engine = open_engine(db, config, must_exist=True, intent_model=False)
    try:
        report = engine.privacy.erase(identifier, actor=_actor(actor),
                                      suppress=not keep_ingesting, vacuum=vacuum)
    except IntentlyError as exc:
        guard(exc)
        return
    finally:
        engine.close()
    if as_json:
        emit_json(report.to_json())
        return
    if not report.found:
        err.print(f"no customer {identifier!r} found; their identifiers are suppressed "
                  f"({report.suppressed} keys), request {report.request}")
        return
    e = report.erased
    err.print(f"erased: {e.records} record(s), {e.identities} identities, {e.events} events, "
              f"{e.messages} messages, {e.journal} journal rows, {e.segment_rows} segment "
              f"rows, {e.merges} merges; {report.suppressed} keys suppressed; "
              f"request {report.request}")


@app.command("export")
def export(
    identifier: str = IDENTIFIER,
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the bundle here "
                                    "(default: standard output)"),
    actor: str | None = ACTOR,
    db: str = DB,
    config: str = CONFIG,
) -> None:
    """Everything held on a person as one JSON bundle (access and portability). Against a
    cluster (settings name its stream), from every partition that holds them."""
    import msgspec

    s = settings(config, db=db)
    bundle = _cluster_export(s, identifier, _actor(actor)) if s.stream else _export(
        db, config, identifier, _actor(actor))
    text = msgspec.json.format(msgspec.json.encode(bundle), indent=2)
    if out is None:
        typer.echo(text.decode())
    else:
        out.write_bytes(text + b"\n")
        err.print(f"{len(bundle['events'])} events, {len(bundle['messages'])} messages "
                  f"written to {out}")


def _export(db: str, config: str, identifier: str, actor: str) -> dict[str, Any]:
    from .._views import export_view

    engine = open_engine(db, config, must_exist=True)
    try:
        bundle = export_view(engine, engine.profile(identifier))
        engine.privacy.exported(identifier, actor=actor)
    except IntentlyError as exc:
        guard(exc)
        raise
    finally:
        engine.close()
    return bundle


def _cluster_export(s: Settings, identifier: str, actor: str) -> dict[str, Any]:
    from ..roles import cluster_export

    try:
        return cluster_export(s, identifier, actor)
    except IntentlyError as exc:
        guard(exc)
        raise


@app.command("suppress")
def suppress(identifier: str = IDENTIFIER, actor: str | None = ACTOR, as_json: bool = JSON,
             db: str = DB, config: str = CONFIG) -> None:
    """Drop a person's next events at ingest, without deleting what is held."""
    _suppression("suppressed", identifier, actor, as_json, db, config)


@app.command("unsuppress")
def unsuppress(identifier: str = IDENTIFIER, actor: str | None = ACTOR, as_json: bool = JSON,
               db: str = DB, config: str = CONFIG) -> None:
    """Lift a suppression: the person's next events are ingested again."""
    _suppression("lifted", identifier, actor, as_json, db, config)


def _suppression(done: str, identifier: str, actor: str | None, as_json: bool, db: str,
                 config: str) -> None:
    """Suppress (`done` = "suppressed") or lift a suppression ("lifted"), and say how many
    identity keys it concerned."""
    engine = open_engine(db, config, must_exist=done == "lifted", intent_model=False)
    try:
        verb = engine.privacy.suppress if done == "suppressed" else engine.privacy.unsuppress
        keys = verb(identifier, actor=_actor(actor))
    finally:
        engine.close()
    emit_json({done: keys}) if as_json else err.print(f"{keys} keys {done}")


@app.command("log")
def log(limit: int = typer.Option(50, min=1, max=100_000), as_json: bool = JSON,
        db: str = DB, config: str = CONFIG) -> None:
    """The privacy journal, newest first: verb, when, who, and a digest of the subject
    (never the identifier itself). Against a cluster, its shared journal."""
    s = settings(config, db=db)
    if s.stream:
        from ..roles import cluster_log

        journal = cluster_log(s, limit)
        rows, dropped = journal["requests"], journal["suppressed_events"]
    else:
        engine = open_engine(db, config, readonly=True, intent_model=False)
        try:
            rows = [r._asdict() for r in engine.privacy.log(limit)]
            dropped = engine.privacy.suppressed_events
        finally:
            engine.close()
    if as_json:
        emit_json({"requests": rows, "suppressed_events": dropped})
        return
    from rich.console import Console
    from rich.table import Table

    from ..events import isoformat

    table = Table("when", "verb", "actor", "subject digest", "detail", "id",
                  title=f"privacy journal ({dropped} events of suppressed people dropped)")
    for r in rows:
        table.add_row(isoformat(r["at"]), r["verb"], r["actor"], r["subject"][:12] + "…",
                      r["detail"], r["id"])
    Console().print(table)


@app.command("new-key")
def new_key() -> None:
    """Print a new master key for `encryption_keys` (32 random bytes, URL-safe base64). Keep
    it in a secret store: a key lost is the data it sealed lost."""
    from ..store import new_master_key

    typer.echo(new_master_key())


@app.command("rotate-key")
def rotate_key(
    data: bool = typer.Option(False, "--data", help="Also seal every record, event and "
                              "message again under a new data key (and a store written "
                              "without encryption for the first time)"),
    actor: str | None = ACTOR,
    as_json: bool = JSON,
    db: str = DB,
    config: str = CONFIG,
) -> None:
    """Wrap the store's data keys with the first of encryption_keys (after a new master key
    was put first, the old one after it); with --data, rotate the data keys too. Runs where
    no server holds the store."""
    import time

    from ..store import open_store, rotate_keys

    s = settings(config, db=db)
    try:
        store = open_store(s.db, durability=s.durability)
    except (IntentlyError, ValueError) as exc:
        fail(str(exc))
        return
    try:
        rotation = rotate_keys(store, s.encryption_keys, actor=_actor(actor), now=time.time(),
                               data=data)
    except IntentlyError as exc:
        guard(exc)
        return
    finally:
        store.close()
    if as_json:
        emit_json(rotation.to_json())
        return
    err.print(f"data key {rotation.data_key} seals from now on"
              + ("; data keys rewrapped with the first master key" if rotation.rewrapped
                 else "")
              + (f"; sealed again: {rotation.records} records, {rotation.events} events, "
                 f"{rotation.messages} messages, {rotation.identities} identity keys"
                 if data else ""))


@app.command("retain")
def retain(as_json: bool = JSON, db: str = DB, config: str = CONFIG) -> None:
    """Apply the retention settings now: drop raw fields (IP, user agent, location) from
    events older than retention_raw_days, delete events older than retention_events_days.
    A server does this hourly."""
    engine = open_engine(db, config, must_exist=True, intent_model=False)
    try:
        report = engine.privacy.retention.apply()
    finally:
        engine.close()
    if as_json:
        emit_json(report.__dict__)
    else:
        err.print(f"raw fields dropped from {report.scrubbed} events, {report.dropped} events "
                  f"deleted (scrubbed up to log position {report.scrubbed_up_to})")
