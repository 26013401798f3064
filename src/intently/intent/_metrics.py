"""Metrics for probability forecasts, next to the baselines they must beat."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - predicted probability| over equal-width bins, weighted by size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - p[mask].mean())
    return float(total / len(y)) if len(y) else 0.0


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None


def score(y: np.ndarray, p: np.ndarray, step: np.ndarray) -> dict[str, Any]:
    """`step[i]`: how many events of its journey prediction i had seen."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return {
        "auc": _auc(y, p),
        "pr_auc": float(average_precision_score(y, p)) if y.sum() else None,
        "auc_at": {str(k): _auc(y[step == k], p[step == k]) for k in (1, 3, 5)},
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
    }


def auc_difference(y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, groups: np.ndarray,
                   rounds: int = 500, seed: int = 0) -> dict[str, Any] | None:
    """AUC of `p_a` minus AUC of `p_b` on the same predictions, with a 95% interval from a
    paired bootstrap that resamples whole groups (journeys: predictions within one are not
    independent). The difference is clear when the interval excludes zero."""
    full_a, full_b = _auc(y, p_a), _auc(y, p_b)
    if full_a is None or full_b is None:
        return None
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(rounds):
        pick = np.concatenate([members[i] for i in rng.integers(0, len(members), len(members))])
        a, b = _auc(y[pick], p_a[pick]), _auc(y[pick], p_b[pick])
        if a is not None and b is not None:
            diffs.append(a - b)
    lo, hi = np.percentile(diffs, [2.5, 97.5]) if diffs else (float("nan"), float("nan"))
    return {"auc_diff": round(full_a - full_b, 4),
            "ci95": [round(float(lo), 4), round(float(hi), 4)], "clear": bool(lo > 0 or hi < 0)}
