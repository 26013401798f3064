"""Journeys from a flat event history, for training and evaluation.

A journey is one customer's run of events, split by inactivity (or a given session id); a
purchase ends it (with session ids, the rest of that session is left out). The prediction
points of a journey are the moments after each of its events before the purchase; the label is
whether the journey ends in a purchase. The purchase itself and everything after it never reach
the features of the predictions it labels.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..profiles import (
    BUY,
    ItemMemory,
    ItemView,
    bucket,
    cart_after,
    category_key,
    kind_of,
    observe,
)


@dataclass
class Journey:
    customer: str
    start: float
    signals: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    converted: bool = False
    purchase_at: float | None = None
    ends: list[int] = field(default_factory=list)  # len(signals) after each event
    prices: list[float] = field(default_factory=list)  # the item price of each event
    carts: list[float] = field(default_factory=list)  # cart value after each event
    categories: list[str | None] = field(default_factory=list)  # each event's item category
    items: list[ItemView | None] = field(default_factory=list)  # each event's item features
    bought: list[tuple[int, int]] = field(default_factory=list)  # (item, category) buckets

    def add(self, ts: float, signals: tuple[str, ...] | list[str], price: float = 0.0,
            cart: float | None = None, category: str | None = None,
            item: ItemView | None = None) -> None:
        """One event's signals (an event may carry several: a return and a spec view), its
        item price, the journey's cart value after it (unchanged when None), its item's
        category key (`category_key`) and its item features (`profiles._items.observe`)."""
        for sig in signals:
            self.signals.append(sig)
            self.times.append(ts)
        self.ends.append(len(self.signals))
        self.prices.append(price)
        self.carts.append(cart if cart is not None else (self.carts[-1] if self.carts else 0.0))
        self.categories.append(category)
        self.items.append(item)

    def buy(self, item: str, category: str | None) -> None:
        """An item of the purchase that converted the journey (the model's propensity tables
        learn from them)."""
        self.bought.append((bucket(item), bucket(category) if category else -1))


Row = tuple[Any, ...]  # (customer, time, signal, session, price[, category[, item]])


def build_journeys(events: Iterable[Row], *, purchase: set[str], gap_s: float = 1800.0
                   ) -> list[Journey]:
    """`events`: (customer, time, signal, session id or None, item price[, item category or
    None[, item id or None]]). `purchase`: the signals that count as buying. Journeys come back
    ordered by start time; the cart value follows the record's rule (`profiles.cart_after`),
    the category is keyed as the model keys it (`category_key`), and each customer's items
    pass through an item memory in time order, as the live record's do."""
    by_customer: dict[str, list[tuple[float, str, str | None, float, str | None, str | None]]]
    by_customer = defaultdict(list)
    for row in events:
        by_customer[row[0]].append((row[1], row[2], row[3], row[4],
                                    row[5] if len(row) > 5 else None,
                                    row[6] if len(row) > 6 else None))
    journeys: list[Journey] = []
    for customer, rows in by_customer.items():
        rows.sort(key=lambda r: r[0])
        current: Journey | None = None
        last_ts = 0.0
        last_session: str | None = None
        memory = ItemMemory()
        for ts, signal, session, price, raw_category, item in rows:
            kind = BUY if signal in purchase else kind_of((signal,))
            if (session is not None and current is not None and current.converted
                    and session == last_session):
                if item is not None and kind:  # left out of journeys, not of the memory
                    observe(memory, item, raw_category, kind, ts, current.start)
                continue  # a session is one journey: it ended with its purchase
            boundary = (
                current is None
                or current.converted
                or (session is not None and session != last_session)
                or (session is None and ts - last_ts > gap_s)
            )
            if boundary:
                current = Journey(customer, ts)
                journeys.append(current)
            assert current is not None
            view = observe(memory, item, raw_category, kind, ts, current.start) \
                if item is not None and kind else None
            if signal in purchase:
                current.converted = True
                current.purchase_at = ts
                if item is not None:
                    current.buy(item, raw_category)
            else:
                cart = current.carts[-1] if current.carts else 0.0
                current.add(ts, (signal,), price, cart_after(cart, (signal,), price),
                            category_key(raw_category), view)
            last_ts, last_session = ts, session
    journeys = [j for j in journeys if j.signals]  # a purchase with nothing before it
    journeys.sort(key=lambda j: (j.start, j.customer))
    return journeys
