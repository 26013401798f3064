"""How often items and categories are bought once looked at: hashed, bounded, smoothed tables.

A view of an item that sells often says more than a view of one nobody buys. From training
journeys: each interaction with an item (view, cart, favourite) counts once, each line of a
purchase that converted a journey counts as a buy. The rate of a category is smoothed toward
the overall rate, an item's toward its category's (additive smoothing with `CATEGORY_PRIOR`
and `ITEM_PRIOR` pseudo-interactions), and the tables keep log lifts: log(rate / overall).
Ids hash into 2**20 buckets (`profiles._items.bucket`), and at most `MAX_ITEMS` items (the
most interacted with) and `MAX_CATEGORIES` categories are kept, so a model's size is bounded
whatever the catalogue.

Training rows must not see their own outcome: `out_of_fold` gives, for each of `FOLDS`
groups of customers, tables learned from the other groups (CatBoost's lesson about target
statistics); the model that scores live keeps the tables learned from every journey.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from zlib import crc32

from ._journeys import Journey

ITEM_PRIOR = 5.0
CATEGORY_PRIOR = 20.0
MAX_ITEMS = 50_000
MAX_CATEGORIES = 5_000
FOLDS = 5


@dataclass
class Propensity:
    """Log lifts by bucket: `category` over the overall rate, `item` over the overall rate."""

    item: dict[int, float] = field(default_factory=dict)
    category: dict[int, float] = field(default_factory=dict)

    def rates(self, item_bucket: int, category_bucket: int) -> tuple[float, float]:
        """(the item's lift over its category's, the category's lift): 0 for the unknown."""
        cat = self.category.get(category_bucket, 0.0)
        return self.item.get(item_bucket, cat) - cat, cat


@dataclass
class _Counts:
    looks_item: Counter[int] = field(default_factory=Counter)
    buys_item: Counter[int] = field(default_factory=Counter)
    looks_category: Counter[int] = field(default_factory=Counter)
    buys_category: Counter[int] = field(default_factory=Counter)
    category_of: dict[int, int] = field(default_factory=dict)

    def add(self, journey: Journey) -> None:
        for view in journey.items:
            if view is not None:
                self.looks_item[view.item_bucket] += 1
                self.looks_category[view.category_bucket] += 1
                self.category_of[view.item_bucket] = view.category_bucket
        for item, category in journey.bought:
            self.buys_item[item] += 1
            self.buys_category[category] += 1
            self.category_of.setdefault(item, category)

    def minus(self, other: _Counts) -> _Counts:
        return _Counts(self.looks_item - other.looks_item, self.buys_item - other.buys_item,
                       self.looks_category - other.looks_category,
                       self.buys_category - other.buys_category, self.category_of)

    def learn(self) -> Propensity:
        looks = sum(self.looks_item.values())
        buys = sum(self.buys_item.values())
        if not looks:
            return Propensity()
        overall = (buys + 1.0) / (looks + 1.0)
        rate_of: dict[int, float] = {}
        kept = sorted(set(self.looks_category) | set(self.buys_category),
                      key=lambda b: -self.looks_category[b])[:MAX_CATEGORIES]
        for b in kept:
            rate_of[b] = (self.buys_category[b] + CATEGORY_PRIOR * overall) / (
                self.looks_category[b] + CATEGORY_PRIOR)
        items = sorted(set(self.looks_item) | set(self.buys_item),
                       key=lambda b: -self.looks_item[b])[:MAX_ITEMS]
        item_lift: dict[int, float] = {}
        for b in items:
            base = rate_of.get(self.category_of.get(b, -1), overall)
            rate = (self.buys_item[b] + ITEM_PRIOR * base) / (self.looks_item[b] + ITEM_PRIOR)
            item_lift[b] = round(math.log(rate / overall), 4)
        return Propensity(item_lift, {b: round(math.log(r / overall), 4)
                                      for b, r in rate_of.items()})


def learn(journeys: Iterable[Journey]) -> Propensity:
    """The tables from every journey (what the live model keeps)."""
    counts = _Counts()
    for j in journeys:
        counts.add(j)
    return counts.learn()


def fold_of(customer: str) -> int:
    return crc32(customer.encode()) % FOLDS


def out_of_fold(journeys: list[Journey]) -> list[Propensity]:
    """For each fold of customers (`fold_of`), the tables learned from the other folds."""
    total = _Counts()
    parts = [_Counts() for _ in range(FOLDS)]
    for j in journeys:
        total.add(j)
        parts[fold_of(j.customer)].add(j)
    return [total.minus(part).learn() for part in parts]
