"""CLV: BG/NBD and Gamma-Gamma recover the parameters of data they generate, and the
evaluation compares predictions with the holdout next to its baselines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from intently.analytics.clv import WEEK, fit_bgnbd
from intently.analytics.clv_evaluate import evaluate_clv, summarize
from intently.cli import app

START = 1_600_000_000.0
TRUE = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}


def bgnbd_customers(n: int = 3000, weeks: float = 78.0, seed: int = 1) -> list[tuple]:
    """Transactions drawn from BG/NBD: Poisson buying at a gamma rate, dropping out after any
    repeat purchase with a beta probability. Spend per customer around a gamma mean."""
    rng = np.random.default_rng(seed)
    out = []
    for c in range(n):
        lam = rng.gamma(TRUE["r"], 1 / TRUE["alpha"])
        p = rng.beta(TRUE["a"], TRUE["b"])
        mean_spend = rng.gamma(6.0, 5.0)
        t = rng.uniform(0, 12)  # first purchases over the first 12 weeks
        first = True
        while t < weeks:
            out.append((f"c{c}", START + t * WEEK, float(rng.gamma(6.0, mean_spend / 6.0))))
            if not first and rng.random() < p:  # drop-out follows repeat purchases only
                break
            first = False
            t += rng.exponential(1 / lam) if lam > 0 else weeks
    return out


def test_bgnbd_recovers_the_parameters_it_was_drawn_from() -> None:
    tx = bgnbd_customers()
    s = summarize(tx, START + 39 * WEEK, START + 78 * WEEK)
    model = fit_bgnbd(s["x"], s["tx"], s["T"])
    assert model.r == pytest.approx(TRUE["r"], rel=0.3)
    assert model.alpha == pytest.approx(TRUE["alpha"], rel=0.4)
    assert model.a == pytest.approx(TRUE["a"], rel=0.4)
    assert model.b == pytest.approx(TRUE["b"], rel=0.5)


def test_evaluation_on_data_the_model_fits() -> None:
    result = evaluate_clv(bgnbd_customers(), START + 39 * WEEK, START + 78 * WEEK)
    assert abs(result["total_error_pct"]) < 10
    assert result["corr"] > 0.5 and result["churn_auc"] > 0.7
    assert abs(result["total_error_pct"]) < abs(result["baselines"]["past_rate"]["total_error_pct"])
    assert set(result["baselines"]) == {"past_rate", "recency_only"}


def test_cli_evaluate(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    rows = bgnbd_customers(n=800)
    path.write_text("customer,day,amount\n" + "".join(
        f"{c},{int(ts)},{amount:.2f}\n" for c, ts, amount in rows))
    out = CliRunner().invoke(app, [
        "clv", "evaluate", str(path), "--customer-col", "customer", "--time-col", "day",
        "--amount-col", "amount", "--calibration-end", str(int(START + 39 * WEEK)),
        "--holdout-end", str(int(START + 78 * WEEK)), "--json"])
    assert out.exit_code == 0, out.output
    r = json.loads(out.stdout)
    for key in ("predicted_total", "actual_total", "total_error_pct", "mae", "corr",
                "churn_auc", "spend_error_pct"):
        assert key in r and key in r["baselines"]["past_rate"]
    bad = CliRunner().invoke(app, ["clv", "evaluate", str(path), "--customer-col", "who",
                                   "--time-col", "day", "--amount-col", "amount",
                                   "--calibration-end", "2020-01-01"])
    assert bad.exit_code == 2 and "no column 'who'" in bad.output
