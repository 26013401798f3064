"""Purchase intent: the online model and its scorer, the prior, training and evaluation."""

from typing import Any

from ._clusters import Cluster, ClusterModel, train_clusters
from ._features import FeatureSpace
from ._journeys import Journey, build_journeys
from ._model import IntentModel, features, load_clusters, load_model, save_model
from ._prior import load_prior, load_prior_clusters
from ._scorer import IntentScorer

__all__ = [
    "Cluster",
    "ClusterModel",
    "FeatureSpace",
    "IntentModel",
    "IntentScorer",
    "Journey",
    "build_journeys",
    "evaluate",
    "evaluate_file",
    "features",
    "load_clusters",
    "load_model",
    "load_prior",
    "load_prior_clusters",
    "save_model",
    "train",
    "train_clusters",
]


def __getattr__(name: str) -> Any:
    """Training and evaluation load scikit-learn: only when asked for."""
    if name in ("evaluate", "evaluate_file"):
        from . import _evaluate

        return getattr(_evaluate, name)
    if name == "train":
        from . import _train

        return getattr(_train, name)
    raise AttributeError(name)
