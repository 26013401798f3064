"""`intently clv evaluate`: BG/NBD and Gamma-Gamma against what happened, next to baselines."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import CONFIG, DB, JSON, emit_json, fail

app = typer.Typer(help="Customer lifetime value: purchase frequency, being alive, spend.",
                  no_args_is_help=True)


@app.command("evaluate")
def evaluate(
    transactions_file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                             help="CSV, JSONL or Parquet, one row a purchase"),
    customer_col: str = typer.Option(..., help="Column with the customer id"),
    time_col: str = typer.Option(..., help="Column with the purchase time (or YYYYMMDD)"),
    amount_col: str = typer.Option(..., help="Column with the amount"),
    calibration_end: str = typer.Option(..., help="End of the calibration period (a date)"),
    holdout_end: str = typer.Option(None, help="End of the holdout [default: as long as "
                                               "calibration, after it]"),
    as_json: bool = JSON,
) -> None:
    """Fit on purchases before --calibration-end, predict each customer's repeat purchases and
    spend up to --holdout-end, and compare with what they did."""
    from ..analytics.clv_evaluate import evaluate_clv, read_transactions
    from ..events import parse_timestamp

    try:
        transactions, skipped = read_transactions(transactions_file, customer_col, time_col,
                                                  amount_col)
        cal = parse_timestamp(calibration_end)
        first = min(ts for _, ts, _ in transactions) if transactions else cal
        hold = parse_timestamp(holdout_end) if holdout_end else cal + (cal - first)
        if hold <= cal:
            fail("--holdout-end must come after --calibration-end")
        result = evaluate_clv(transactions, cal, hold)
    except ValueError as exc:
        fail(str(exc))
        return
    result["rows_skipped"] = skipped
    if as_json:
        emit_json(result)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("", "predicted", "actual", "total error %", "MAE", "corr", "churn AUC",
                  "spend error %", title=f"CLV on {transactions_file.name}: "
                  f"{result['customers']} customers, {result['horizon_weeks']} weeks ahead")
    for name, m in {"BG/NBD + Gamma-Gamma": result, **result["baselines"]}.items():
        table.add_row(name, *(str(m[k]) for k in ("predicted_total", "actual_total",
                                                  "total_error_pct", "mae", "corr",
                                                  "churn_auc", "spend_error_pct")))
    Console().print(table)


@app.command("update")
def update(as_json: bool = JSON, db: str = DB, config: str = CONFIG) -> None:
    """Fit BG/NBD and Gamma-Gamma on every customer who ordered, as of now, and save them:
    profiles show P(alive), expected orders and value over 90 days, and rules can use them as
    `clv.p_alive`, `clv.expected_orders_90d` and `clv.value_90d`."""
    from ..engine import audited, clv_state, clv_view, update_clv
    from ._common import cli_actor, err, open_engine

    engine = open_engine(db, config, intent_model=False)
    try:
        model = audited(engine, cli_actor(), "clv.update", "clv", clv_state, update_clv)
    except ValueError as exc:
        fail(str(exc))
        return
    finally:
        engine.close()
    data = clv_view(model)
    if as_json:
        emit_json(data)
    else:
        err.print(f"lifetime value fitted on {model.customers} customers: BG/NBD "
                  f"{vars(model.bgnbd)}, Gamma-Gamma {vars(model.gamma_gamma)}")
