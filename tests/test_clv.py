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
    supervised = result["supervised_churn"]
    assert supervised["label_window_weeks"] == 19.5
    assert supervised["logistic_churn_auc"] > 0.65
    assert supervised["gradient_boosting_churn_auc"] > 0.6


def test_supervised_churn_never_trains_on_the_holdout() -> None:
    """Its labels come from inside the calibration period: changing the holdout changes the
    score it is judged by, never the model (same predictions, so the same ranking of a fixed
    label set)."""
    from intently.analytics.clv_evaluate import supervised_churn

    rows = bgnbd_customers(n=1500)
    cal, hold = START + 39 * WEEK, START + 78 * WEEK
    s = summarize(rows, cal, hold)
    without_holdout = [r for r in rows if r[1] < cal]
    a = supervised_churn(rows, cal, s, 39.0)
    b = supervised_churn(without_holdout, cal, s, 39.0)
    assert a == b


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


@pytest.mark.slow
def test_clv_fields_in_profiles_and_rules_with_time_alone() -> None:
    """After `clv update`, records carry P(alive), expected orders and value, and a rule on
    them moves with time: a regular who stops ordering leaves "alive" days later, no event."""
    from conftest import HISTORY, T0, track
    from intently import Engine, ManualClock
    from intently._views import profile_view
    from intently.analytics.clv_live import CLVModel, fit_clv
    from intently.segments import Segment
    from intently.store import MemoryStore

    store = MemoryStore()
    clock = ManualClock(T0)
    engine = Engine(store, clock=clock, intent_model=False, settings=HISTORY)
    rng = np.random.default_rng(3)
    for c in range(300):  # even customers order every few days until day 70; odd ones twice
        gap = float(rng.uniform(3, 8))
        days = np.arange(c % 10, 70, gap) if c % 2 == 0 else np.asarray([c % 10, c % 10 + gap])
        for day in days:
            engine.process(track("Order Completed", user=f"c{c}", at=T0 + float(day) * 86400,
                                 revenue=float(rng.uniform(20, 80))))
    clock.set(T0 + 72 * 86400)
    model = fit_clv(engine.all_profiles(), clock.now(), "test")
    assert CLVModel.from_json(model.to_json()) == model
    store.save_model("clv", model.version, model.to_json())
    engine.close()

    engine = Engine(store, clock=clock, intent_model=False, settings=HISTORY)
    view = profile_view(engine, engine.profile("c7"))
    assert set(view["clv"]) == {"p_alive", "expected_orders_90d", "value_90d"}
    engine.put_segment(Segment.from_text("alive", "clv.p_alive >= 0.5 and orders >= 2"))
    alive = [p.id for p in engine.all_profiles() if "alive" in p.segments]
    assert 100 < len(alive) <= 150
    assert all(int(pid[1:]) % 2 == 0 for pid in alive)
    clock.advance(400 * 86400)
    changes = engine.tick()
    assert any(not c.entered and c.segment == "alive" for c in changes)
