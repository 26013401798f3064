from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from intently.cli import app
from intently.events import parse_timestamp
from intently.intent import FeatureSpace, build_journeys, evaluate
from intently.intent._evaluate import examples
from intently.intent._metrics import expected_calibration_error
from intently.testing import Shop

pytestmark = pytest.mark.slow

BUY = {"purchased"}


def test_journeys_split_on_gaps_sessions_and_purchases() -> None:
    rows = [("c", 0.0, "viewed_product", None, 5.0), ("c", 60.0, "added_to_cart", None, 5.0),
            ("c", 120.0, "purchased", None, 5.0), ("c", 180.0, "viewed_product", None, 0.0),
            ("c", 180.0 + 3601, "viewed_product", None, 0.0),
            ("d", 10.0, "viewed_product", "s1", 0.0), ("d", 20.0, "viewed_product", "s2", 0.0)]
    journeys = build_journeys(rows, purchase=BUY, gap_s=3600)
    shape = [(j.customer, j.signals, j.converted) for j in journeys]
    assert shape == [
        ("c", ["viewed_product", "added_to_cart"], True),
        ("d", ["viewed_product"], False),
        ("d", ["viewed_product"], False),
        ("c", ["viewed_product"], False),
        ("c", ["viewed_product"], False),
    ]
    assert journeys[0].purchase_at == 120.0
    assert journeys[0].prices == [5.0, 5.0] and journeys[0].carts == [0.0, 5.0]


def test_the_purchase_and_what_follows_never_reach_the_features() -> None:
    shop = Shop(users=300, days=10, seed=6)
    rows = [(e.get("userId") or e["anonymousId"], i * 1.0, e.get("event", ""), None, 0.0)
            for i, e in enumerate(shop.events()) if e["type"] == "track"]
    journeys = build_journeys(rows, purchase={"Order Completed"}, gap_s=86400)
    space = FeatureSpace.from_counts({"Order Completed": 10**6, "Product Added": 5})
    x, y, _ = examples(journeys, space)  # the purchase has a column of its own here
    assert y.sum() > 0
    purchased_col = space.names.index("count:Order Completed")
    assert x[:, purchased_col].sum() == 0
    for j in journeys:
        if j.converted:
            assert j.purchase_at is not None and max(j.times) <= j.purchase_at


def test_labels_that_do_not_depend_on_behaviour_cannot_be_predicted() -> None:
    rng = random.Random(1)
    rows = []
    for c in range(1500):
        t = c * 100.0
        for k in range(rng.randint(1, 6)):
            rows.append((f"c{c}", t + k, rng.choice(["viewed_product", "added_to_cart",
                                                     "viewed_specs"]), None, 0.0))
        if rng.random() < 0.3:  # a purchase drawn by coin, after the journey
            rows.append((f"c{c}", t + 50, "purchased", None, 0.0))
    result = evaluate(build_journeys(rows, purchase=BUY))
    assert 0.4 < result["auc"] < 0.6  # a leak of the label would show as skill here


def test_model_beats_the_baselines_on_the_simulator(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    Shop(users=1500, days=30, seed=12).write(path)
    out = CliRunner().invoke(app, [
        "intent", "evaluate", str(path), "--user-col", "user_id", "--anonymous-col",
        "anonymous_id", "--time-col", "timestamp", "--event-col", "event",
        "--purchase-event", "Order Completed", "--gap-minutes", "1440", "--json"])
    assert out.exit_code == 0, out.output
    r = json.loads(out.stdout)
    assert set(r) >= {"auc", "pr_auc", "auc_at", "log_loss", "ece", "n_journeys",
                      "positive_rate", "baselines"}
    assert set(r["auc_at"]) == {"1", "3", "5"}
    assert r["auc"] > 0.85 and r["auc"] > r["baselines"]["majority"]["auc"]
    assert r["log_loss"] < r["baselines"]["majority"]["log_loss"]


@pytest.mark.parametrize(("column", "options"), [("category_code", []),
                                              ("kind", ["--map", "category=kind"])])
def test_the_category_column_reaches_the_model(tmp_path: Path, column: str,
                                               options: list[str]) -> None:
    # Same clicks everywhere; only what is looked at tells buyers apart (as on REES46, where
    # sessions on electronics convert twice as often as the rest).
    rng = random.Random(3)
    lines = [f"event_time,event_type,{column},price,user_id,user_session"]
    for c in range(1600):
        t = 1_570_000_000 + c * 60
        code = rng.choice(["electronics.smartphone", "furniture.sofa", ""])
        buys = rng.random() < {"electronics.smartphone": 0.5, "furniture.sofa": 0.05, "": 0.2}[code]
        for k in range(rng.randint(1, 4)):
            lines.append(f"{t + k},view,{code},10,u{c},s{c}")
        if buys:
            lines.append(f"{t + 9},purchase,{code},10,u{c},s{c}")
    path = tmp_path / "shop.csv"
    path.write_text("\n".join(lines) + "\n")
    args = ["intent", "evaluate", str(path), "--user-col", "user_id", "--time-col",
            "event_time", "--event-col", "event_type", "--session-col", "user_session",
            "--purchase-event", "purchase", "--train-share", "0.6", *options]
    out = CliRunner().invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    r = json.loads(out.stdout)
    assert r["n_train_journeys"] == int(0.6 * r["n_journeys"]) == 960
    assert r["baselines"]["logistic_counts"]["auc"] < 0.6 < 0.7 < r["auc"]
    assert r["vs_logistic_counts"]["clear"] and r["reference"]["auc"] > 0.7
    table = CliRunner().invoke(app, args)  # the table for people
    assert table.exit_code == 0, table.output
    assert "GBM (ref.)" in table.output and "LightGBM" in table.output
    assert "clearly ahead" in table.output


def test_folds_test_the_later_journeys_each_after_all_that_came_before(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from intently.intent import _evaluate

    shop = Shop(users=400, days=20, seed=8)
    rows = [(e.get("userId") or e["anonymousId"], parse_timestamp(e["timestamp"]),
             e.get("event", ""), None, 0.0) for e in shop.events() if e["type"] == "track"]
    journeys = build_journeys(rows, purchase={"Order Completed"}, gap_s=86400)
    seen: list[tuple[list, list]] = []
    predict = _evaluate._predict

    def spy(train: list, test: list, seed: int) -> object:
        seen.append((train, test))
        return predict(train, test, seed)

    monkeypatch.setattr(_evaluate, "_predict", spy)
    result = evaluate(journeys, train_share=0.5, folds=3)
    cut = len(journeys) // 2
    assert result["folds"] == 3 and result["n_test_journeys"] == len(journeys) - cut
    assert [j for _, test in seen for j in test] == journeys[cut:]  # every later one, once
    for train, test in seen:
        assert train == journeys[: journeys.index(test[0])]  # all before the fold, no more
        assert max(j.start for j in train) <= min(j.start for j in test)
    assert result["n_predictions"] == sum(min(len(j.ends), 50) for j in journeys[cut:])
    assert result["auc"] > result["baselines"]["majority"]["auc"]


def test_wrong_purchase_name_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    Shop(users=20, days=3).write(path)
    out = CliRunner().invoke(app, ["intent", "evaluate", str(path), "--user-col", "user_id",
                                   "--time-col", "timestamp", "--event-col", "event",
                                   "--purchase-event", "Bought"])
    assert out.exit_code == 1 and "no 'Bought' events" in out.output


def test_calibration_error() -> None:
    y = np.array([0, 0, 1, 1])
    assert expected_calibration_error(y, np.array([0.0, 0.0, 1.0, 1.0])) == 0.0
    assert expected_calibration_error(y, np.full(4, 0.5)) == 0.0
    assert abs(expected_calibration_error(y, np.full(4, 0.9)) - 0.4) < 1e-9


def test_the_auc_difference_comes_with_a_journey_bootstrap_interval() -> None:
    from intently.intent._metrics import auc_difference

    rng = np.random.default_rng(1)
    journeys = np.repeat(np.arange(200), 3)  # three predictions per journey
    y = np.repeat(rng.integers(0, 2, 200), 3)
    good = y * 0.6 + rng.uniform(0, 0.4, len(y))  # ranks every positive first
    noise = rng.uniform(0, 1, len(y))
    clear = auc_difference(y, good, noise, journeys, rounds=200)
    assert clear is not None and clear["clear"] and clear["ci95"][0] > 0.3
    same = auc_difference(y, noise, noise, journeys, rounds=200)
    assert same == {"auc_diff": 0.0, "ci95": [0.0, 0.0], "clear": False}
    assert auc_difference(np.zeros(6), good[:6], noise[:6], journeys[:6]) is None
