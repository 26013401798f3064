"""Purchase intent: journey features, the model, and its evaluation against baselines."""

from ._evaluate import evaluate, evaluate_file
from ._features import FeatureSpace
from ._journeys import Journey, build_journeys

__all__ = ["FeatureSpace", "Journey", "build_journeys", "evaluate", "evaluate_file"]
