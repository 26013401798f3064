"""`intently intent evaluate`: how well the intent model predicts purchases, split by time.

Train on the journeys that started earlier, test on the later ones (in one block, or in several
consecutive folds, each predicted by models trained on everything before it). After each event
of a test journey (before its purchase), predict whether the journey ends in a purchase. The
headline `model` is the one that scores online (`IntentModel`, linear, incremental); gradient
boosting on richer prefix features is reported beside it as `reference`, with two baselines:
the majority rate and logistic regression on event counts.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from .._errors import ValidationError
from ..events import Event, Vocabulary, parse_timestamp
from ..sources import ColumnMap, header, read_rows
from ._features import FeatureSpace
from ._journeys import Journey, Row, build_journeys
from ._metrics import auc_difference, score

MAX_STEPS = 50  # prediction points per journey (long journeys would dominate otherwise)


def read_history(path: Path, cmap: ColumnMap, vocabulary: Vocabulary, purchase_event: str,
                 item_col: str | None = None) -> tuple[list[Row], set[str], int]:
    """(customer, time, signal, session, item price, item category, item id) per readable
    row, the purchase signals, and how many rows were skipped. The price is the `price` column
    (or `--map price=...`), the category the `category` or `category_code` column (or `--map
    category=...`), as the ingest mapping reads them; the item `item_col`, else the
    `product_id`, `item_id` or `sku` column (or `--map product_id=...`)."""
    columns = header(path)
    cols = cmap.resolve(columns)
    if not cols.user or not cols.time or not cols.event:
        raise ValidationError("name the columns: --user-col, --time-col and --event-col",
                              str(path))
    rows: list[Row] = []
    price_col = cols.properties.get("price") or ("price" if "price" in columns else None)
    category_col = cols.properties.get("category") or next(
        (c for c in ("category", "category_code") if c in columns), None)
    item_col = item_col or cols.properties.get("product_id") or next(
        (c for c in ("product_id", "item_id", "sku") if c in columns), None)
    if item_col is not None and item_col not in columns:
        raise ValidationError(f"no column {item_col!r} in the file", "--item-col")
    skipped = 0
    purchase = {"__purchase__"}
    signal_of: dict[str, str] = {}
    for _, row in read_rows(path):
        if isinstance(row, ValidationError):
            skipped += 1
            continue
        user, when, name = row.get(cols.user), row.get(cols.time), row.get(cols.event)
        if not user and cols.anonymous:  # not signed in yet: the anonymous id stands in
            user = row.get(cols.anonymous)
        if not user or not when or not name:
            skipped += 1
            continue
        try:
            ts = parse_timestamp(when)
        except ValueError:
            skipped += 1
            continue
        name = str(name)
        signal = signal_of.get(name)
        if signal is None:
            if name == purchase_event:
                signal = "__purchase__"
            else:
                found = vocabulary.signals_for(Event(event=name, user_id=str(user)))
                signal = found[0] if found else name
            signal_of[name] = signal
        session = row.get(cols.session) if cols.session else None
        price = _number(row.get(price_col)) if price_col else 0.0
        category = row.get(category_col) if category_col else None
        item = row.get(item_col) if item_col else None
        rows.append((str(user), ts, signal, str(session) if session else None, price,
                     str(category) if category else None, str(item) if item else None))
    return rows, purchase, skipped


def _number(value: Any) -> float:
    try:
        return max(0.0, float(value)) if value not in (None, "") else 0.0
    except (TypeError, ValueError):
        return 0.0


def examples(journeys: list[Journey], space: FeatureSpace
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows, labels and steps: one per event of each journey, before any purchase."""
    feats: list[np.ndarray] = []
    labels: list[int] = []
    steps: list[int] = []
    for j in journeys:
        for e, end in enumerate(j.ends[:MAX_STEPS]):
            feats.append(space.vector(j.signals[:end], j.times[:end], j.categories[e]))
            labels.append(int(j.converted))
            steps.append(e + 1)
    width = len(space.names)
    x = np.vstack(feats) if feats else np.zeros((0, width), dtype=np.float32)
    return x, np.asarray(labels, dtype=np.int8), np.asarray(steps)


def counts_only(x: np.ndarray, space: FeatureSpace) -> np.ndarray:
    return np.log1p(x[:, : len(space.signals)])


def evaluate(journeys: list[Journey], *, seed: int = 0, train_share: float = 0.7,
             folds: int = 1) -> dict[str, Any]:
    """Journeys ordered by start time. The first `train_share` of them train; the rest are
    tested, in `folds` consecutive folds, each predicted by models trained on every journey
    before it (an expanding window: more folds test more journeys, each with all the history
    before it). Predictions of all folds are scored together."""
    cut = int(len(journeys) * train_share)
    if cut < 1 or len(journeys) - cut < max(folds, 1):
        raise ValidationError("too few journeys to split by time", "$")
    bounds = np.linspace(cut, len(journeys), folds + 1).round().astype(int).tolist()
    parts = [_predict(journeys[:a], journeys[a:b], seed) for a, b in pairwise(bounds)]
    y = np.concatenate([f.y for f in parts])
    step = np.concatenate([f.step for f in parts])
    p_online, p_reference, p_lightgbm, p_logistic, p_majority = (
        np.concatenate([getattr(f, name) for f in parts])
        for name in ("online", "reference", "lightgbm", "logistic", "majority"))
    journey = np.cumsum(step == 1)  # which test journey each prediction belongs to
    result: dict[str, Any] = score(y, p_online, step)
    result["vs_logistic_counts"] = auc_difference(y, p_online, p_logistic, journey, seed=seed)
    reference = score(y, p_reference, step)
    reference.update(model="HistGradientBoostingClassifier on prefix features",
                     train_seconds=sum(f.reference_s for f in parts))
    lightgbm = score(y, p_lightgbm, step)
    lightgbm.update(model="LightGBM on the online model's features",
                    train_seconds=sum(f.lightgbm_s for f in parts))
    result["vs_lightgbm"] = auc_difference(y, p_online, p_lightgbm, journey, seed=seed)
    test = journeys[cut:]
    result.update(
        n_journeys=len(journeys),
        n_train_journeys=cut,
        n_test_journeys=len(test),
        folds=folds,
        n_predictions=len(y),
        positive_rate=float(np.mean([j.converted for j in test])),
        model="IntentModel (online, linear)",
        chosen=[f.chosen for f in parts],  # per fold: feature set, penalty, validation AUC
        train_seconds=sum(f.online_s for f in parts),
        reference=reference,
        lightgbm=lightgbm,
        baselines={
            "majority": score(y, p_majority, step),
            "logistic_counts": score(y, p_logistic, step),
        },
    )
    return _round(result)


@dataclass
class _Fold:
    """One fold's predictions: the online model, the reference and the two baselines."""

    y: np.ndarray
    step: np.ndarray
    online: np.ndarray
    reference: np.ndarray
    lightgbm: np.ndarray
    logistic: np.ndarray
    majority: np.ndarray
    online_s: float
    reference_s: float
    lightgbm_s: float
    chosen: dict[str, Any]


def _predict(train: list[Journey], test: list[Journey], seed: int) -> _Fold:
    space = FeatureSpace.from_counts(Counter(s for j in train for s in j.signals),
                                     categories=Counter(c for j in train for c in j.categories
                                                        if c is not None))
    x_train, y_train, _ = examples(train, space)
    x_test, y_test, step = examples(test, space)
    if y_train.min() == y_train.max():
        raise ValidationError("the training journeys are all one class: is --purchase-event "
                              "the right name?", "$")
    started = time.perf_counter()
    online = _online_model(train)
    online_s = time.perf_counter() - started
    started = time.perf_counter()
    p_lightgbm = _lightgbm(train, test, online, seed)
    lightgbm_s = time.perf_counter() - started
    p_online = np.concatenate([np.asarray(online.probabilities(j)[:MAX_STEPS]) for j in test])
    started = time.perf_counter()
    # Small leaves and an L2 penalty: real journey sets are a few thousand, easy to overfit.
    model = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, max_leaf_nodes=15,
                                           l2_regularization=1.0, min_samples_leaf=40,
                                           early_stopping=True, random_state=seed)
    model.fit(x_train, y_train)
    reference_s = time.perf_counter() - started
    logistic = LogisticRegression(max_iter=2000).fit(counts_only(x_train, space), y_train)
    return _Fold(y=y_test, step=step, online=p_online,
                 reference=model.predict_proba(x_test)[:, 1], lightgbm=p_lightgbm,
                 logistic=logistic.predict_proba(counts_only(x_test, space))[:, 1],
                 majority=np.full(len(y_test), float(y_train.mean())),
                 online_s=online_s, reference_s=reference_s, lightgbm_s=lightgbm_s,
                 chosen=online.metrics["chosen"])


def _online_model(train: list[Journey]) -> Any:
    from ._model import from_weights
    from ._train import fit

    fitted = fit(train)
    return from_weights("evaluation", fitted.bias, fitted.weights,
                        item_lift=fitted.tables.item, category_lift=fitted.tables.category,
                        pair_signals=fitted.pair_signals,
                        metrics={"chosen": fitted.choice})


def _lightgbm(train: list[Journey], test: list[Journey], online: Any, seed: int
              ) -> np.ndarray:
    """LightGBM on exactly the online model's features (training rows read out-of-fold item
    and category rates, test rows the online model's tables), so the report shows what a
    non-linear model would add on the same inputs."""
    from sklearn.feature_extraction import DictVectorizer

    try:
        import lightgbm
    except OSError as exc:  # the wheel links the system's OpenMP runtime
        raise ValidationError(f"LightGBM cannot load ({exc}): install the OpenMP runtime "
                              "(Debian: apt-get install libgomp1)", "lightgbm") from exc

    from ._train import examples as feature_rows

    rows, y_train, _ = feature_rows(train, online.event_cap)
    test_rows, _, _ = feature_rows(test, online.event_cap, online.propensity())
    vec = DictVectorizer(sparse=True)
    x_train = vec.fit_transform(rows).astype(np.float32)
    x_test = vec.transform(test_rows).astype(np.float32)
    model = lightgbm.LGBMClassifier(n_estimators=300, learning_rate=0.05, num_leaves=15,
                                    min_child_samples=40, reg_lambda=1.0, subsample=0.8,
                                    subsample_freq=1, colsample_bytree=0.8, random_state=seed,
                                    n_jobs=1, verbose=-1)
    model.fit(x_train, y_train)
    proba: Any = model.predict_proba(x_test)
    return np.asarray(proba[:, 1])


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def evaluate_file(path: str | Path, cmap: ColumnMap, purchase_event: str, *,
                  gap_minutes: float = 30.0, vocabulary: Vocabulary | None = None,
                  train_share: float = 0.7, folds: int = 1, item_col: str | None = None
                  ) -> dict[str, Any]:
    rows, purchase, skipped = read_history(Path(path), cmap, vocabulary or Vocabulary(),
                                           purchase_event, item_col)
    if not any(r[2] in purchase for r in rows):
        raise ValidationError(f"no {purchase_event!r} events in the file: check "
                              "--purchase-event and --event-col", str(path))
    journeys = build_journeys(rows, purchase=purchase, gap_s=gap_minutes * 60.0)
    result = evaluate(journeys, train_share=train_share, folds=folds)
    result["rows_skipped"] = skipped
    return result


