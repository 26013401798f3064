"""`intently segments ...`: define segments in the rule language, list, count and export them."""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Callable
from typing import Any

import typer

from .._errors import IntentlyError
from ..segments import Segment, builtin_segments, check_fields, to_text
from ._common import (
    CONFIG,
    DB,
    JSON,
    cli_actor,
    cluster_define,
    emit_json,
    err,
    fail,
    guard,
    in_cluster,
    open_engine,
)

app = typer.Typer(help="Live segments: rules over the golden record and behavior.",
                  no_args_is_help=True)


@app.command("list")
def list_(as_json: bool = JSON, db: str = DB, config: str = CONFIG) -> None:
    """Segments with their rule and current size."""
    engine = open_engine(db, config, readonly=True, intent_model=False)
    sizes = engine.read_models.segment_sizes()
    rows = [{**seg.to_json(), "size": sizes.get(name, 0)}
            for name, seg in engine.segment_definitions.items()]
    engine.close()
    if as_json:
        emit_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("segment", "members", "rule", title="segments")
    for row in rows:
        table.add_row(str(row["name"]), str(row["size"]), str(row["text"]))
    Console().print(table)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Segment name"),
    rule: str = typer.Argument(..., help='Rule, e.g. "orders >= 2 and no purchased in 30d"'),
    description: str = typer.Option("", help="What the segment is for"),
    as_json: bool = JSON,
    db: str = DB,
    config: str = CONFIG,
) -> None:
    """Add or replace a segment; every customer is evaluated against it at once."""
    try:
        segment = Segment.from_text(name, rule, description)
        check_fields(segment.rule)
    except IntentlyError as exc:
        fail(f"{exc}\n  {rule}\n  {' ' * (getattr(exc, 'position', 0) or 0)}^")
        return
    from ..engine import audited, segment_state

    cluster = in_cluster(db, config)
    if cluster is not None:
        cluster_define(cluster, "segment", [(name, segment)])
        return
    engine = open_engine(db, config, must_exist=False)
    try:
        changes = audited(engine, cli_actor(), "segment.put", name, segment_state(name),
                          lambda e: e.put_segment(segment))
    finally:
        engine.close()
    entered = sum(c.entered for c in changes)
    if as_json:
        emit_json({"name": name, "text": to_text(segment.rule), "entered": entered})
    else:
        err.print(f"segment {name!r}: {to_text(segment.rule)}  ({entered} members now)")


def _putter(segment: Segment) -> Callable[[Any], object]:
    return lambda engine: engine.put_segment(segment)


@app.command("builtins")
def builtins(db: str = DB, config: str = CONFIG) -> None:
    """Save the built-in segments (high intent now, cart abandoners, churn risk, ...) to the
    store, where they run like any other and can be edited."""
    from ..engine import audited, segment_state

    cluster = in_cluster(db, config)
    if cluster is not None:
        cluster_define(cluster, "segment", [(s.name, s) for s in builtin_segments()])
        return
    engine = open_engine(db, config, must_exist=False)
    try:
        for segment in builtin_segments():
            audited(engine, cli_actor(), "segment.put", segment.name,
                    segment_state(segment.name), _putter(segment))
    finally:
        engine.close()
    err.print(f"added {len(builtin_segments())} built-in segments")


@app.command("remove")
def remove(name: str, db: str = DB, config: str = CONFIG) -> None:
    """Delete a segment; its members leave it."""
    from ..engine import audited, segment_state

    cluster = in_cluster(db, config)
    if cluster is not None:
        cluster_define(cluster, "segment", [(name, None)])
        return
    engine = open_engine(db, config, must_exist=False)
    try:
        audited(engine, cli_actor(), "segment.delete", name, segment_state(name),
                lambda e: e.remove_segment(name))
    except IntentlyError as exc:
        guard(exc)
    finally:
        engine.close()


@app.command("members")
def members(
    name: str,
    format_: str = typer.Option("table", "--format", help="table, csv or json"),
    limit: int = typer.Option(100_000, help="At most this many"),
    pseudonymous: bool = typer.Option(False, help="Keyed hashes instead of record ids (stable "
                                      "for this store), for analysts"),
    db: str = DB,
    config: str = CONFIG,
) -> None:
    """The customers in a segment (as of the last checkpoint), with when they entered."""
    engine = open_engine(db, config, readonly=True, intent_model=False)
    if name not in engine.segment_definitions:
        fail(f"no segment {name!r}")
    rows = engine.read_models.segment_members(name, limit=limit)
    if pseudonymous:
        rows = [(engine.privacy.pseudonym(p), since) for p, since in rows]
    engine.close()
    column = "pseudonym" if pseudonymous else "profile_id"
    if format_ == "json":
        emit_json([{column: p, "since": since} for p, since in rows])
    elif format_ == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow([column, "since"])
        writer.writerows(rows)
    else:
        for pid, _ in rows:
            sys.stdout.write(pid + "\n")
        err.print(f"{len(rows)} members")


@app.command("groups")
def groups(
    k: int = typer.Option(6, help="How many groups"),
    as_json: bool = JSON,
    db: str = DB,
    config: str = CONFIG,
) -> None:
    """Cluster customers on value (RFM), visits, discount and channel use; each group gets a
    readable profile."""
    from ..analytics import cluster_customers
    from ..analytics.customers import to_json as groups_json
    from ..engine import analysable

    engine = open_engine(db, config, readonly=True, intent_model=False)
    try:
        found = cluster_customers(analysable(engine), engine.clock.now(), k=k)
    except ValueError as exc:
        fail(str(exc))
        return
    finally:
        engine.close()
    if as_json:
        emit_json(groups_json(found))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("group", "customers", "orders", "revenue", "categories", "lifecycle",
                  title="customer groups")
    for g in found:
        table.add_row(g.name, f"{g.size} ({g.share:.0%})", f"{g.means['orders']:.1f}",
                      f"{math.expm1(g.means['revenue']):.0f}", ", ".join(g.top_categories),
                      ", ".join(f"{n} {c}" for n, c in list(g.lifecycle.items())[:3]))
    Console().print(table)
