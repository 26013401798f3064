"""Offer rules kept in the store as versioned models: `offer_rules` (written) and
`basket_rules` (mined)."""

from __future__ import annotations

import json
import time
from typing import Any

from ..store import Catalog
from ._offers import Decider, OfferRule, mined_offers


def save_offer_rules(store: Catalog, rules: list[dict[str, Any]], kind: str = "offer_rules"
                     ) -> None:
    if kind == "offer_rules":  # validate before keeping
        for i, r in enumerate(rules):
            OfferRule.from_dict(r, f"$[{i}]")
    store.save_model(kind, time.strftime("%Y%m%dT%H%M%S"), json.dumps(rules).encode())


def load_decider(store: Catalog, **kw: Any) -> Decider:
    written = store.load_model("offer_rules")
    mined = store.load_model("basket_rules")
    rules = [OfferRule.from_dict(r, f"$[{i}]")
             for i, r in enumerate(json.loads(written) if written else [])]
    rules += mined_offers(json.loads(mined)) if mined else []
    return Decider(rules, **kw)
