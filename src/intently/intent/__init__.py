"""Purchase intent: the online model and its scorer, the prior, training and evaluation."""

from typing import Any

from ._features import FeatureSpace
from ._journeys import Journey, build_journeys
from ._model import IntentModel, features, load_model, save_model
from ._prior import load_prior
from ._scorer import IntentScorer

__all__ = [
    "FeatureSpace",
    "IntentModel",
    "IntentScorer",
    "Journey",
    "build_journeys",
    "evaluate",
    "evaluate_file",
    "features",
    "journeys_from_events",
    "load_model",
    "load_prior",
    "save_model",
    "train",
]


def __getattr__(name: str) -> Any:
    """Training and evaluation load scikit-learn and the engine: only when asked for."""
    if name in ("evaluate", "evaluate_file"):
        from . import _evaluate

        return getattr(_evaluate, name)
    if name in ("train", "journeys_from_events"):
        from . import _train

        return getattr(_train, name)
    raise AttributeError(name)
