"""The prior: the intent model fitted on the bundled shop simulator and shipped as `prior.json`,
so scores make sense before `intently intent train` has seen any of the user's own history.
`engine/_prior.py` makes it (deterministic; a test checks the shipped file matches)."""

from __future__ import annotations

from importlib import resources

from ._clusters import ClusterModel
from ._model import IntentModel


def load_prior() -> IntentModel:
    return IntentModel.from_json(resources.files(__package__).joinpath("prior.json").read_bytes())


def load_prior_clusters() -> ClusterModel:
    data = resources.files(__package__).joinpath("clusters.json").read_bytes()
    return ClusterModel.from_json(data)

