"""`intently intent ...`: the purchase-intent model."""

from __future__ import annotations

from pathlib import Path

import typer

from .._errors import IntentlyError
from ..sources import ColumnMap
from ._common import JSON, emit_json, guard

app = typer.Typer(help="Purchase intent: evaluate (train and score) the model.",
                  no_args_is_help=True)


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
    gap_minutes: float = typer.Option(30.0, help="Inactivity that splits journeys"),
    as_json: bool = JSON,
) -> None:
    """Split by time, train on the earlier journeys, and score predictions after each event of
    the later ones, next to a majority-rate and a logistic-on-counts baseline."""
    from ..intent import evaluate_file

    cmap = ColumnMap(user=user_col, time=time_col, event=event_col, anonymous=anonymous_col,
                     session=session_col)
    try:
        result = evaluate_file(events_file, cmap, purchase_event, gap_minutes=gap_minutes)
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
    rows = {"model": result, **result["baselines"]}
    for name, m in rows.items():
        table.add_row(name, *(str(v) for v in (m["auc"], m["pr_auc"], m["auc_at"]["1"],
                                               m["auc_at"]["3"], m["auc_at"]["5"],
                                               m["log_loss"], m["ece"])))
    Console().print(table)
