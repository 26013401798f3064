"""`intently scenarios ...`: define scenarios (YAML or JSON), list them, read the outbox, run
the dispatcher, and report each scenario against its holdout."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import typer

from .._errors import IntentlyError
from .._views import message_view
from ..engine import Dispatcher, Engine, channels_from_settings
from ..scenarios import load_file, ready_made, report, to_yaml
from ._common import (
    CONFIG,
    DB,
    JSON,
    cli_actor,
    cluster_define,
    emit_json,
    fail,
    guard,
    in_cluster,
    open_engine,
    settings,
)

app = typer.Typer(help="Scenarios: triggers, steps, channels, holdouts and their results.",
                  no_args_is_help=True)


@app.command("add")
def add(
    path: Path = typer.Argument(None, help="Scenario file (.yaml, .yml or .json)"),
    ready: str = typer.Option(None, "--ready-made", help="Add a shipped scenario by name "
                              "('all' for every one); see `intently scenarios ready-made`"),
    as_json: bool = JSON, db: str = DB, config: str = CONFIG,
) -> None:
    """Add or replace a scenario. It acts on events from now on."""
    try:
        if ready:
            shipped = ready_made()
            if ready != "all" and ready not in shipped:
                fail(f"no ready-made scenario {ready!r}; shipped: {', '.join(shipped)}")
            chosen = list(shipped.values()) if ready == "all" else [shipped[ready]]
        elif path is not None:
            if not path.exists():
                fail(f"no file {path}")
            chosen = [load_file(path)]
        else:
            fail("give a scenario file or --ready-made NAME")
            return
    except IntentlyError as exc:
        guard(exc)
        return
    from ..engine import audited, scenario_state

    cluster = in_cluster(db, config)
    if cluster is not None:
        cluster_define(cluster, "scenario", [(s.name, s) for s in chosen])
        return
    engine = open_engine(db, config, must_exist=False)
    try:
        for s in chosen:
            audited(engine, cli_actor(), "scenario.put", s.name, scenario_state(s.name),
                    partial(Engine.put_scenario, scenario=s))
    except IntentlyError as exc:
        engine.close()
        guard(exc)
    engine.close()
    names = [s.name for s in chosen]
    if as_json:
        emit_json({"added": names})
    else:
        typer.echo(f"added {', '.join(names)}")


@app.command("list")
def list_(as_json: bool = JSON, db: str = DB, config: str = CONFIG) -> None:
    """Scenarios with their trigger and what they did so far."""
    engine = open_engine(db, config, readonly=True, intent_model=False)
    rows = []
    for name, s in sorted(engine.scenario_definitions.items()):
        counts = engine.read_models.journal_counts(name)
        totals = {k: sum(n for _, kind, n, _, _ in counts if kind == k)
                  for k in ("entered", "sent", "converted")}
        rows.append({"name": name, "enabled": s.enabled, "trigger": s.trigger.kind,
                     "priority": s.policies.priority, "holdout": s.holdout,
                     "description": s.description, **totals})
    engine.close()
    if as_json:
        emit_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("scenario", "trigger", "priority", "entered", "sent", "converted",
                  title="scenarios")
    for r in rows:
        table.add_row(r["name"], r["trigger"], str(r["priority"]), str(r["entered"]),
                      str(r["sent"]), str(r["converted"]))
    Console().print(table)


@app.command("ready-made")
def ready_made_cmd(as_json: bool = JSON) -> None:
    """The scenarios shipped with Intently (add them with `add --ready-made NAME`)."""
    shipped = ready_made()
    if as_json:
        emit_json([s.to_json() for s in shipped.values()])
        return
    for s in shipped.values():
        typer.echo(f"{s.name:20} {s.description}")


@app.command("show")
def show(name: str, db: str = DB, config: str = CONFIG) -> None:
    """A scenario as YAML (ready-made ones too): copy, edit, `add`."""
    engine = open_engine(db, config, readonly=True, intent_model=False) if Path(
        settings(config, db=db).db).exists() else None
    found = engine.scenario_definitions.get(name) if engine else None
    if engine:
        engine.close()
    found = found or ready_made().get(name)
    if found is None:
        fail(f"no scenario {name!r}")
        return
    typer.echo(to_yaml(found), nl=False)


@app.command("remove")
def remove(name: str, db: str = DB, config: str = CONFIG) -> None:
    """Delete a scenario: its journeys stop at their next step."""
    from ..engine import audited, scenario_state

    cluster = in_cluster(db, config)
    if cluster is not None:
        cluster_define(cluster, "scenario", [(name, None)])
        return
    engine = open_engine(db, config, must_exist=False)
    try:
        audited(engine, cli_actor(), "scenario.delete", name, scenario_state(name),
                partial(Engine.remove_scenario, name=name))
    except IntentlyError as exc:
        engine.close()
        guard(exc)
    engine.close()
    typer.echo(f"removed {name}")


@app.command("report")
def report_cmd(name: str, as_json: bool = JSON, db: str = DB, config: str = CONFIG) -> None:
    """Per arm: entries, sends, deliveries, opens, clicks, conversions and revenue, with the
    uplift over the holdout and its 95% interval; a winner only when it is significant."""
    engine = open_engine(db, config, readonly=True, intent_model=False)
    if name not in engine.scenario_definitions and not engine.read_models.journal_counts(name):
        engine.close()
        fail(f"no scenario {name!r}")
    data = report(engine.read_models, name)
    engine.close()
    if as_json:
        emit_json(data)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("arm", "entered", "sent", "delivered", "opened", "clicked", "converted",
                  "rate", "revenue", "uplift (95% CI)", title=f"scenario {name}")
    for arm, r in data["arms"].items():
        up = r.get("uplift")
        table.add_row(arm, str(r["entered"]), str(r["sent"]), str(r["delivered"]),
                      str(r["opened"]), str(r["clicked"]), str(r["conversions"]),
                      f"{r['conversion_rate']:.1%}", f"{r['revenue']:.2f}",
                      f"{up['difference']:+.1%} [{up['ci95'][0]:+.1%}, {up['ci95'][1]:+.1%}]"
                      if up else "")
    Console().print(table)
    Console().print(f"winner: {data['winner'] or 'none'} ({data['reason']})")


@app.command("outbox")
def outbox(limit: int = typer.Option(20, help="Newest messages to show"),
           scenario: str = typer.Option(None, help="Only this scenario's"),
           as_json: bool = JSON, db: str = DB, config: str = CONFIG) -> None:
    """The newest messages and their delivery status."""
    engine = open_engine(db, config, readonly=True, intent_model=False)
    rows = engine.read_models.outbox(limit, scenario=scenario)
    engine.close()
    out = [message_view(r) for r in rows]
    if as_json:
        emit_json(out)
        return
    for m in out:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(m["due"]))
        typer.echo(f"{when}  {m['status']:9} {m['channel']:7} {m['to']:28} {m['subject']}")


@app.command("dispatch")
def dispatch(once: bool = typer.Option(False, help="Deliver what is due, then exit"),
             as_json: bool = JSON, db: str = DB, config: str = CONFIG) -> None:
    """Deliver due messages through the configured channels (`intently serve` runs this
    too). Email, SMS and push without a configured provider are logged, not sent."""
    s = settings(config, db=db)
    engine = open_engine(db, config, must_exist=False)
    dispatcher = Dispatcher(engine.outbox, channels_from_settings(s, engine.tracker.secret),
                            max_age_s=s.max_message_age_hours * 3600.0)
    try:
        if once:
            while dispatcher.run_once():
                pass
        else:
            dispatcher.start()
            while True:
                time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        dispatcher.stop()
        engine.close()
    if as_json:
        emit_json(dispatcher.counts)
    else:
        typer.echo(" ".join(f"{k}={v}" for k, v in dispatcher.counts.items()))
