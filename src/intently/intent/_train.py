"""Training the online intent model on history: from the store's log or from a file.

Journeys come from replaying history through the pipeline (`engine.journeys_from_events`), so
training sees exactly the signals, identities and journeys the live run produces. Validation is by
time: fit on the journeys that started first, score the later ones, then refit on everything.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression

from .._errors import ValidationError
from ._journeys import Journey
from ._metrics import score
from ._model import IntentModel, features, from_weights

MAX_STEPS = 50


def examples(journeys: list[Journey], cap: int) -> tuple[list[dict[str, float]], np.ndarray,
                                                          np.ndarray]:
    rows: list[dict[str, float]] = []
    labels: list[int] = []
    steps: list[int] = []
    for j in journeys:
        for e in range(min(len(j.ends), MAX_STEPS)):
            rows.append(features(j, e, cap))
            labels.append(int(j.converted))
            steps.append(e + 1)
    return rows, np.asarray(labels, dtype=np.int8), np.asarray(steps)


def fit(journeys: list[Journey], cap: int = 24, c: float = 1.0
        ) -> tuple[float, dict[str, float]]:
    rows, y, _ = examples(journeys, cap)
    if len(set(y.tolist())) < 2:
        raise ValidationError("history has only one outcome (no purchases, or nothing else): "
                              "nothing to learn", "$")
    vec = DictVectorizer(sparse=True)
    x = vec.fit_transform(rows)
    model = LogisticRegression(C=c, max_iter=3000).fit(x, y)
    weights = dict(zip(vec.get_feature_names_out(), model.coef_[0].tolist(), strict=True))
    return float(model.intercept_[0]), weights


def train(journeys: list[Journey], *, source: str, cap: int = 24) -> IntentModel:
    """Validate on the latest 30% of journeys by start time, then fit on all of them."""
    if len(journeys) < 20:
        raise ValidationError(f"only {len(journeys)} journeys: too few to train on", "$")
    cut = int(len(journeys) * 0.7)
    started = time.perf_counter()
    bias, weights = fit(journeys[:cut], cap)
    held_out = from_weights("validation", bias, weights, event_cap=cap)
    y: list[int] = []
    p: list[float] = []
    step: list[int] = []
    for j in journeys[cut:]:
        probs = held_out.probabilities(j)[:MAX_STEPS]
        p.extend(probs)
        y.extend([int(j.converted)] * len(probs))
        step.extend(range(1, len(probs) + 1))
    metrics = score(np.asarray(y), np.asarray(p), np.asarray(step))
    bias, weights = fit(journeys, cap)
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    metrics.update(n_journeys=len(journeys), n_validation_journeys=len(journeys) - cut,
                   positive_rate=float(np.mean([j.converted for j in journeys])),
                   train_seconds=round(time.perf_counter() - started, 3))
    return from_weights(version, bias, weights, event_cap=cap, source=source,
                        metrics={k: _round(v) for k, v in metrics.items()})


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value
