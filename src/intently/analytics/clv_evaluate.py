"""`intently clv evaluate`: calibrate on one period, predict the next, compare with what
happened, next to two baselines (recency only; each customer's past rate extrapolated)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from ..events import parse_timestamp
from .clv import WEEK, fit_bgnbd, fit_gamma_gamma

Transaction = tuple[str, float, float]  # customer, time (epoch seconds), amount


def read_transactions(path: Path, customer_col: str, time_col: str, amount_col: str
                      ) -> tuple[list[Transaction], int]:
    """Transactions from a CSV/JSONL/Parquet file, and how many rows could not be read.
    Dates may also be YYYYMMDD, as CDNOW writes them."""
    from ..sources import header, read_rows

    columns = header(path)
    missing = [c for c in (customer_col, time_col, amount_col) if columns and c not in columns]
    if missing:
        raise ValueError(f"no column {', '.join(map(repr, missing))} in {path}; "
                         f"its columns are {', '.join(columns)}")
    out: list[Transaction] = []
    skipped = 0
    for _, row in read_rows(path):
        if not isinstance(row, dict):
            skipped += 1
            continue
        customer, when, amount = row.get(customer_col), row.get(time_col), row.get(amount_col)
        text = str(when or "")
        if len(text) == 8 and text.isdigit():
            text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
        try:
            out.append((str(customer), parse_timestamp(text), float(amount or 0.0)))
        except (TypeError, ValueError):
            skipped += 1
    return out, skipped


def summarize(transactions: Iterable[Transaction], calibration_end: float, holdout_end: float
              ) -> dict[str, np.ndarray]:
    """Per customer first seen in calibration: x, t_x, T (weeks), mean repeat spend, recency,
    and the holdout's repeat purchases (distinct days) and spend."""
    days: dict[str, dict[int, float]] = defaultdict(dict)
    for customer, ts, amount in transactions:
        day = int(ts // 86400)
        days[customer][day] = days[customer].get(day, 0.0) + amount
    cols: dict[str, list[float]] = defaultdict(list)
    cal_day = calibration_end / 86400
    hold_day = holdout_end / 86400
    for _customer, by_day in days.items():
        ordered = sorted(by_day)
        cal = [d for d in ordered if d < cal_day]
        if not cal:
            continue
        first, last = cal[0], cal[-1]
        repeats = cal[1:]
        hold = [d for d in ordered if cal_day <= d < hold_day]
        cols["x"].append(len(repeats))
        cols["tx"].append((last - first) / 7)
        cols["T"].append((cal_day - first) / 7)
        cols["m"].append(float(np.mean([by_day[d] for d in repeats])) if repeats else 0.0)
        cols["first_spend"].append(by_day[first])
        cols["recency"].append((cal_day - last) / 7)
        cols["hold_x"].append(len(hold))
        cols["hold_spend"].append(sum(by_day[d] for d in hold))
    return {k: np.asarray(v, dtype=float) for k, v in cols.items()}


def _scores(pred_count: np.ndarray, churn_score: np.ndarray, pred_spend: np.ndarray,
            s: dict[str, np.ndarray]) -> dict[str, Any]:
    actual = s["hold_x"]
    churned = (actual == 0).astype(int)
    predicted_total, actual_total = float(pred_count.sum()), float(actual.sum())
    spend_actual = float(s["hold_spend"].sum())
    corr = float(np.corrcoef(pred_count, actual)[0, 1]) if pred_count.std() > 0 else None
    auc = float(roc_auc_score(churned, churn_score)) if 0 < churned.sum() < len(churned) else None
    return {
        "predicted_total": round(predicted_total, 1),
        "actual_total": round(actual_total, 1),
        "total_error_pct": round(100 * (predicted_total - actual_total) / actual_total, 2)
        if actual_total else None,
        "mae": round(float(np.abs(pred_count - actual).mean()), 4),
        "corr": None if corr is None or math.isnan(corr) else round(corr, 4),
        "churn_auc": None if auc is None else round(auc, 4),
        "spend_error_pct": round(100 * (float(pred_spend.sum()) - spend_actual) / spend_actual, 2)
        if spend_actual else None,
    }


def evaluate_clv(transactions: list[Transaction], calibration_end: float,
                 holdout_end: float) -> dict[str, Any]:
    s = summarize(transactions, calibration_end, holdout_end)
    if len(s.get("x", [])) < 20:
        raise ValueError("too few customers bought in the calibration period")
    horizon = (holdout_end - calibration_end) / WEEK
    model = fit_bgnbd(s["x"], s["tx"], s["T"])
    expected = model.expected(horizon, s["x"], s["tx"], s["T"])
    spend_model = fit_gamma_gamma(s["x"], s["m"])
    overall = float(s["m"][s["x"] > 0].mean()) if (s["x"] > 0).any() else 0.0
    spend = spend_model.expected_spend(s["x"], s["m"], overall)
    # churn: fewer expected purchases means more likely none (BG/NBD's P(alive) is 1 for
    # every customer without a repeat purchase, so it ranks them poorly)
    result = _scores(expected, -expected, expected * spend, s)
    # baselines: each customer's past repeat rate carried forward; and recency alone
    rate = np.where(s["T"] > 0, s["x"] / np.maximum(s["T"], 1e-9), 0.0) * horizon
    past_spend = np.where(s["x"] > 0, s["m"], s["first_spend"])
    recent = s["recency"] <= np.median(s["recency"])
    result["baselines"] = {
        "past_rate": _scores(rate, -rate, rate * past_spend, s),
        "recency_only": _scores(rate * recent, s["recency"], rate * recent * past_spend, s),
    }
    result["supervised_churn"] = supervised_churn(transactions, calibration_end, s, horizon)
    result.update(customers=len(s["x"]), horizon_weeks=round(horizon, 2),
                  model={"bgnbd": vars(model), "gamma_gamma": vars(spend_model)})
    return result


def _churn_features(s: dict[str, np.ndarray], horizon: float) -> np.ndarray:
    """Behavior features per customer: frequency, recency, age, spend, and BG/NBD's own
    expectation and P(alive) fitted on the same period."""
    model = fit_bgnbd(s["x"], s["tx"], s["T"])
    rate = s["x"] / np.maximum(s["T"], 1e-9)
    return np.column_stack([
        s["x"], s["tx"], s["T"], s["recency"], np.log1p(s["m"]), np.log1p(s["first_spend"]),
        model.expected(horizon, s["x"], s["tx"], s["T"]),
        model.p_alive(s["x"], s["tx"], s["T"]), rate])


def supervised_churn(transactions: list[Transaction], calibration_end: float,
                     s: dict[str, np.ndarray], horizon: float) -> dict[str, Any]:
    """Churn learned from labels the calibration period itself holds: features as of an
    earlier cut, labels from the weeks between that cut and the end of calibration (no
    purchase: churned). The models then score every customer as of the calibration end, and
    are judged on the holdout like the others. Nothing from the holdout is used to train."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    first = min(ts for _, ts, _ in transactions)
    window = min(horizon, (calibration_end - first) / WEEK / 2)
    cut = calibration_end - window * WEEK
    past = summarize(transactions, cut, calibration_end)
    if len(past.get("x", [])) < 50:
        return {"note": "too little history before the calibration end to learn from"}
    labels = (past["hold_x"] == 0).astype(int)
    if labels.min() == labels.max():
        return {"note": "every customer in the training window did the same"}
    train = _churn_features(past, window)
    now = _churn_features(s, window)
    churned = (s["hold_x"] == 0).astype(int)
    out: dict[str, Any] = {"label_window_weeks": round(window, 1), "trained_on": len(labels)}
    models = {
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "gradient_boosting": HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40,
            random_state=0),
    }
    for name, clf in models.items():
        clf.fit(train, labels)
        p = clf.predict_proba(now)[:, 1]
        out[f"{name}_churn_auc"] = round(float(roc_auc_score(churned, p)), 4) if (
            0 < churned.sum() < len(churned)) else None
    return out
