"""Scoring on the hot path: after each event, the journey's purchase probability, and the key
action (the event that raised it most in this journey)."""

from __future__ import annotations

from typing import Any

from ..events.signals import PURCHASED
from ..profiles import ItemView, Profile, category_key, category_of, item_price
from ._model import IntentModel, sigmoid


class IntentScorer:
    """Holds the model in use; `engine.intent.model = new_model` switches it at once."""

    def __init__(self, model: IntentModel) -> None:
        self.model = model

    @property
    def version(self) -> str:
        return self.model.version

    def predict_one(self, p: Profile, now: float) -> dict[str, Any] | None:
        """The journey's purchase probability from its chain of signals as it stands (item
        price and category aside: the record keeps no event's), and its key action; None
        with no journey."""
        chain = p.chain
        n = len(chain)
        if not n:
            return None
        model = self.model
        acc = 0.0
        for idx in range(n):
            acc = model.step(acc, chain[idx], chain[:idx].count(chain[idx]))
        times = p.chain_ts
        end: float = times[n - 1]
        gap = (end - times[n - 2]) / 60.0 if n > 1 else 0.0
        probability = 1.0 if PURCHASED in chain else sigmoid(model.logit(
            acc, chain[-1], chain[-2] if n > 1 else None, n, (end - p.journey_start) / 60.0,
            gap, 0.0, p.cart_value, None, None, chain))
        return {"probability": round(probability, 6), "key_action": p.key_action}

    def score(self, p: Profile, signals: tuple[str, ...], ts: float,
              props: dict[str, Any], item: ItemView | None = None) -> None:
        """Update `p` for an event (`props`: its properties; `item`: its item's features, from
        the record's item memory) whose `signals` were just appended to its journey chain."""
        if not signals:
            return
        journey_start: float = p.journey_start
        if ts < journey_start:  # a late event of a journey already over
            return
        if PURCHASED in signals:  # the journey converted; its key action stays what it was
            p.intent = 1.0
            return
        chain = p.chain
        n = len(chain)
        if n and p.chain_ts[n - 1] > ts:  # a late event, put in its place: score afresh
            self._rescore(p, signals, ts, props, item)
            return
        model = self.model
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
            if p.items:
                p.items[0] = 0
        else:
            acc, before, key_delta = p.intent_acc, p.intent, p.key_delta
            gap = (ts - p.chain_ts[n - k - 1]) / 60.0
        step = model.step
        for idx in range(n - k, n):
            sig = chain[idx]
            acc = step(acc, sig, chain[:idx].count(sig))  # sightings before
        p.intent_acc = acc
        last = chain[-1]
        cart: float = p.cart_value
        category = category_key(category_of(props)) if props else None
        now = sigmoid(model.logit(acc, last, chain[-2] if n > 1 else None, n,
                                  (ts - journey_start) / 60.0, gap,
                                  item_price(props) if props else 0.0, cart, category, item,
                                  chain))
        p.intent = now
        if now - before > key_delta:
            p.key_delta = now - before
            p.key_ts = ts
            p.key_action = last
            items = p.items
            if items:
                items[0] = item.facts() if item is not None else 0

    def _rescore(self, p: Profile, signals: tuple[str, ...], ts: float,
                 props: dict[str, Any], item: ItemView | None) -> None:
        """The whole chain again, as if its events had come in order (the item's price and
        category are the late event's: a record keeps no other event's); the late event is the
        key action if it raised the probability most."""
        model = self.model
        chain = p.chain
        times = p.chain_ts
        n = len(chain)
        acc = 0.0
        step = model.step
        for idx in range(n):
            sig = chain[idx]
            acc = step(acc, sig, chain[:idx].count(sig))
        p.intent_acc = acc
        end: float = times[n - 1]
        gap = (end - times[n - 2]) / 60.0 if n > 1 else 0.0
        category = category_key(category_of(props)) if props else None
        before: float = p.intent
        now = sigmoid(model.logit(acc, chain[-1], chain[-2] if n > 1 else None, n,
                                  (end - p.journey_start) / 60.0, gap,
                                  item_price(props) if props else 0.0, p.cart_value, category,
                                  item, chain))
        p.intent = now
        if now - before > p.key_delta:
            p.key_delta = now - before
            p.key_ts = ts
            p.key_action = signals[-1]
            items = p.items
            if items:
                items[0] = item.facts() if item is not None else 0
