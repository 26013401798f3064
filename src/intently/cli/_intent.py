"""`intently intent ...`: the purchase-intent model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import typer

from .._errors import IntentlyError
from ..sources import ColumnMap, header, looks_like_segment, read_rows, row_to_event
from ._common import CONFIG, DB, JSON, MAP, emit_json, err, guard, map_pairs, settings

app = typer.Typer(help="Purchase intent: train the online model, evaluate it.",
                  no_args_is_help=True)


@app.command("train")
def train(
    events_file: Path = typer.Argument(None, exists=True, dir_okay=False,
                                       help="Learn from this file [default: the store's log]"),
    user_col: str = typer.Option(None, help="Column with the customer id (files)"),
    time_col: str = typer.Option(None, help="Column with the event time (files)"),
    event_col: str = typer.Option(None, help="Column with the event name (files)"),
    anonymous_col: str = typer.Option(None, help="Column with an anonymous id (files)"),
    map_: list[str] = MAP,
    clusters: int = typer.Option(7, help="How many behavioral clusters to learn"),
    as_json: bool = JSON,
    db: str = DB,
    config: str = CONFIG,
) -> None:
    """Learn the purchase-intent model and the behavioral clusters from history, validate the
    model on the latest 30% of journeys (by time), and save both as a new version in the store:
    the engine uses them at once (a running `intently serve` picks them up when restarted)."""
    from ..engine import Engine, journeys_from_events
    from ..intent import save_model, train_clusters
    from ..intent import train as fit_model

    s = settings(config, db=db)
    try:
        if events_file is not None:
            cmap = ColumnMap(user=user_col, time=time_col, event=event_col,
                             anonymous=anonymous_col, properties=map_pairs(map_))
            resolved = cmap.resolve(header(events_file))

            def rows() -> Iterator[dict]:  # type: ignore[type-arg]
                for n, row in read_rows(events_file):
                    if isinstance(row, dict):
                        yield row if looks_like_segment(row) else row_to_event(row, resolved, n)

            source = str(events_file)
            journeys = journeys_from_events(_valid(rows()), s)
        else:
            reader = Engine(settings=s, readonly=True, intent_model=False)
            source = reader.store_url
            journeys = journeys_from_events(reader.logged(), s)
            reader.close()
        model = fit_model(journeys, source=source)
        groups = train_clusters(journeys, k=clusters, version=model.version, source=source)
        engine = Engine(settings=s)
        save_model(engine.catalog, model)
        save_model(engine.catalog, groups, "clusters")
        # Records show the new models now, not at their next event: their current journeys
        # come from the store's log (already cut when training on it).
        current = journeys if events_file is None else (
            journeys_from_events(engine.logged(), s) if engine.last_seq else [])
        rescored = engine.rescore(model, groups, current)
        engine.close()
    except IntentlyError as exc:
        guard(exc)
        return
    summary = {"version": model.version, "source": source, "store": s.db,
               "records_rescored": rescored, **model.metrics,
               "clusters": [{"name": c.name, "size": c.size,
                             "conversion_rate": c.conversion_rate} for c in groups.clusters],
               "cluster_metrics": groups.metrics}
    if as_json:
        emit_json(summary)
    else:
        err.print(f"saved intent model {model.version} to {s.db}: validation AUC "
                  f"{model.metrics.get('auc')} on {model.metrics.get('n_validation_journeys')} "
                  f"journeys; {rescored} records rescored")


@app.command("clusters")
def clusters_cmd(as_json: bool = JSON, db: str = DB, config: str = CONFIG) -> None:
    """The behavioral clusters in use: name, description, signals, size, conversion rate."""
    from ..intent import load_clusters, load_prior_clusters
    from ..store import open_store

    s = settings(config, db=db)
    store = open_store(s.db, readonly=True) if Path(s.db).exists() else None
    model = (load_clusters(store) if store else None) or load_prior_clusters()
    data = {"version": model.version, "source": model.source, "metrics": model.metrics,
            "clusters": [asdict(c) for c in model.clusters]}
    if as_json:
        emit_json(data)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("cluster", "journeys", "share", "convert", "signals",
                  title=f"behavioral clusters ({model.source})")
    for c in model.clusters:
        table.add_row(c.name, str(c.size), f"{c.share:.0%}", f"{c.conversion_rate:.0%}",
                      ", ".join(f"{k} {v:.0%}" for k, v in sorted(
                          c.signals.items(), key=lambda kv: -kv[1])[:5]))
    Console().print(table)


def _valid(rows: Iterator[dict]) -> Iterator[dict]:  # type: ignore[type-arg]
    """Rows that make valid events (training skips the rest; `ingest` reports them)."""
    from ..engine import as_event

    for row in rows:
        try:
            as_event(row)
        except IntentlyError:
            continue
        yield row


@app.command("evaluate")
def evaluate(
    events_file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                       help="CSV, JSONL or Parquet event history"),
    purchase_event: str = typer.Option(..., help="Event name of a purchase"),
    user_col: str = typer.Option(None, help="Column with the customer id"),
    time_col: str = typer.Option(None, help="Column with the event time"),
    event_col: str = typer.Option(None, help="Column with the event name"),
    anonymous_col: str = typer.Option(None, help="Column with an anonymous id (fallback)"),
    session_col: str = typer.Option(None, help="Column with a session id (splits journeys)"),
    item_col: str = typer.Option(None, help="Column with the item id (default: product_id, "
                                            "item_id or sku)"),
    gap_minutes: float = typer.Option(30.0, help="Inactivity that splits journeys"),
    map_: list[str] = MAP,
    train_share: float = typer.Option(0.7, min=0.1, max=0.9,
                                      help="Share of journeys (the earliest) to train on"),
    folds: int = typer.Option(1, min=1, max=20,
                              help="Test the later journeys in this many consecutive folds, "
                                   "each after training on all journeys before it"),
    as_json: bool = JSON,
) -> None:
    """Split by time, train on the earlier journeys, and score predictions after each event of
    the later ones, next to a majority-rate and a logistic-on-counts baseline, and LightGBM on
    the online model's own features as a reference. The item's price and category come from
    the `price` and `category` (or `category_code`) columns, or from `--map price=COLUMN --map
    category=COLUMN`; its id from `--item-col`."""
    from ..intent import evaluate_file

    cmap = ColumnMap(user=user_col, time=time_col, event=event_col, anonymous=anonymous_col,
                     session=session_col, properties=map_pairs(map_))
    try:
        result = evaluate_file(events_file, cmap, purchase_event, gap_minutes=gap_minutes,
                               train_share=train_share, folds=folds, item_col=item_col)
    except IntentlyError as exc:
        guard(exc)
        return
    if as_json:
        emit_json(result)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("", "auc", "pr_auc", "auc@1", "auc@3", "auc@5", "log_loss", "ece",
                  title=f"intent on {events_file.name}: {result['n_journeys']} journeys, "
                        f"{result['positive_rate']:.1%} convert (test)")
    rows = {"online": result, "LightGBM": result["lightgbm"],
            "GBM (ref.)": result["reference"],
            "logistic": result["baselines"]["logistic_counts"],
            "majority": result["baselines"]["majority"]}
    for name, m in rows.items():
        table.add_row(name, *(str(v) for v in (m["auc"], m["pr_auc"], m["auc_at"]["1"],
                                               m["auc_at"]["3"], m["auc_at"]["5"],
                                               m["log_loss"], m["ece"])))
    lead = result.get("vs_logistic_counts")
    if lead:
        low, high = lead["ci95"]
        table.caption = (f"online AUC minus logistic on counts: {lead['auc_diff']:+.3f}, 95% "
                         f"interval [{low:+.3f}, {high:+.3f}]: "
                         + ("clearly ahead" if lead["clear"] and lead["auc_diff"] > 0 else
                            "clearly behind" if lead["clear"] else "not clearly different"))
    Console().print(table)
