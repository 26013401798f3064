"""The shipped prior intent and cluster models, trained on the simulator's shop; regenerate
`intent/prior.json` and `intent/clusters.json` with `python -m intently.engine._prior`."""

from __future__ import annotations

from pathlib import Path

from .. import intent
from ..intent import ClusterModel, IntentModel, Journey, train_clusters
from ._replay import journeys_from_events

PRIOR_USERS, PRIOR_DAYS, PRIOR_SEED = 3000, 30, 2026


SOURCE = f"simulator prior ({PRIOR_USERS} customers, {PRIOR_DAYS} days, seed {PRIOR_SEED})"


def prior_journeys() -> list[Journey]:
    from ..testing import Shop

    return journeys_from_events(Shop(users=PRIOR_USERS, days=PRIOR_DAYS, seed=PRIOR_SEED).events())


def build_prior(journeys: list[Journey] | None = None) -> IntentModel:
    """The simulator's catalog is not the user's: the prior weighs no item categories and no
    item or category purchase rates (a model trained on the user's own history learns
    theirs), only what a customer does with items, whatever they are. The feature set and the
    penalty are fixed, so the recipe gives one model."""
    from ..intent import train

    journeys = journeys if journeys is not None else prior_journeys()
    for j in journeys:
        j.categories = [None] * len(j.categories)
    model = train(journeys, source=SOURCE, c=1.0, group="journey+items")
    model.version = f"prior-{PRIOR_SEED}"
    model.item_lift, model.category_lift = {}, {}
    model.metrics.pop("train_seconds", None)
    return model


def build_prior_clusters(journeys: list[Journey] | None = None) -> ClusterModel:
    return train_clusters(journeys if journeys is not None else prior_journeys(),
                          version=f"prior-{PRIOR_SEED}", source=SOURCE)

if __name__ == "__main__":
    journeys = prior_journeys()
    for name, model in (("prior.json", build_prior(journeys)),
                        ("clusters.json", build_prior_clusters(journeys))):
        out = Path(intent.__file__).with_name(name)
        out.write_bytes(model.to_json())
        print(f"wrote {out}")
