"""Regenerate `prior.json`: `python -m intently.intent._build_prior`."""

from __future__ import annotations

from pathlib import Path

from ._model import IntentModel

PRIOR_USERS, PRIOR_DAYS, PRIOR_SEED = 3000, 30, 2026


def build_prior() -> IntentModel:
    from ..testing import Shop
    from ._train import journeys_from_events, train

    shop = Shop(users=PRIOR_USERS, days=PRIOR_DAYS, seed=PRIOR_SEED)
    model = train(journeys_from_events(shop.events()),
                  source=f"simulator prior ({PRIOR_USERS} customers, {PRIOR_DAYS} days, "
                         f"seed {PRIOR_SEED})")
    model.version = f"prior-{PRIOR_SEED}"
    model.metrics.pop("train_seconds", None)
    return model



if __name__ == "__main__":
    out = Path(__file__).with_name("prior.json")
    out.write_bytes(build_prior().to_json())
    print(f"wrote {out}")
