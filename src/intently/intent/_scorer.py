"""Scoring on the hot path: after each event, the journey's purchase probability, and the key
action (the event that raised it most in this journey)."""

from __future__ import annotations

from typing import Any

from ..events.signals import PURCHASED
from ..profiles import Profile, category_key, category_of, item_price
from ._model import IntentModel, sigmoid


class IntentScorer:
    """Holds the model in use; `engine.intent.model = new_model` switches it at once."""

    def __init__(self, model: IntentModel) -> None:
        self.model = model

    def score(self, p: Profile, signals: tuple[str, ...], ts: float,
              props: dict[str, Any]) -> None:
        """Update `p` for an event (`props`: its properties) whose `signals` were just appended
        to its journey chain."""
        if not signals:
            return
        if PURCHASED in signals:  # the journey converted; its key action stays what it was
            p.intent = 1.0
            return
        model = self.model
        chain = p.chain
        n = len(chain)
        k = len(signals)
        acc: float
        before: float
        gap: float
        key_delta: float
        if n <= k:  # the journey starts with this event
            acc, before, gap, key_delta = 0.0, model.base_rate, 0.0, 0.0
            p.key_delta = 0.0
            p.key_ts = 0.0
            p.key_action = None
        else:
            acc, before, key_delta = p.intent_acc, p.intent, p.key_delta
            gap = (ts - p.chain_ts[n - k - 1]) / 60.0
        step = model.step
        for idx in range(n - k, n):
            sig = chain[idx]
            acc = step(acc, sig, chain[:idx].count(sig))  # sightings before
        p.intent_acc = acc
        last = chain[-1]
        journey_start: float = p.journey_start
        cart: float = p.cart_value
        category = category_key(category_of(props)) if props else None
        now = sigmoid(model.logit(acc, last, chain[-2] if n > 1 else None, n,
                                  (ts - journey_start) / 60.0, gap,
                                  item_price(props) if props else 0.0, cart, category))
        p.intent = now
        if now - before > key_delta:
            p.key_delta = now - before
            p.key_ts = ts
            p.key_action = last
