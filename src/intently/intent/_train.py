"""Training the online intent model on history: from the store's log or from a file.

History is replayed through a throwaway in-memory engine, so training sees exactly the signals,
identities and journeys the live pipeline produces (derived signals included). Validation is by
time: fit on the journeys that started first, score the later ones, then refit on everything.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression

from .._errors import ValidationError
from ..events.signals import PURCHASED
from ..profiles import cart_after, category_key, category_of, item_price, line_value
from ._journeys import Journey
from ._metrics import score
from ._model import IntentModel, features, from_weights

MAX_STEPS = 50


def journeys_from_events(events: Iterable[Any], settings: Any = None) -> list[Journey]:
    """Replay events (Segment dicts, Events or JSON bytes) through an in-memory engine and cut
    its stream into journeys: a purchase ends one (and labels it), as the engine's journey
    boundaries do."""
    from ..engine import Engine
    from ..store import MemoryStore

    engine = Engine(MemoryStore(), settings=settings, intent_model=False)
    open_journeys: dict[tuple[str, float], Journey] = {}
    done: list[Journey] = []

    def listen(batch: list[Any]) -> None:
        for item in batch:
            signals = item.signals
            key = (item.profile.id, item.journey_start)
            journey = open_journeys.get(key)
            if journey is None:
                journey = open_journeys[key] = Journey(item.profile.id, item.journey_start)
                done.append(journey)
            if PURCHASED in signals:
                journey.converted = True
                journey.purchase_at = item.event.ts
                del open_journeys[key]
            elif signals and not journey.converted:
                props = item.event.properties
                cart = journey.carts[-1] if journey.carts else 0.0
                journey.add(item.event.ts, signals, item_price(props),
                            cart_after(cart, signals, line_value(props)),
                            category_key(category_of(props)))

    engine.listeners.append(listen)
    engine.process_many(events)
    journeys = [j for j in done if j.signals]
    journeys.sort(key=lambda j: (j.start, j.customer))
    return journeys


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
