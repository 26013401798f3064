"""Real-time decisions: offers for a receipt or basket, in microseconds."""

from ._offers import Decider, OfferRule, mined_offers
from ._store import load_decider, save_offer_rules

__all__ = ["Decider", "OfferRule", "load_decider", "mined_offers", "save_offer_rules"]
