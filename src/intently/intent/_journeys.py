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

from ..profiles import cart_after, category_key


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

    def add(self, ts: float, signals: tuple[str, ...] | list[str], price: float = 0.0,
            cart: float | None = None, category: str | None = None) -> None:
        """One event's signals (an event may carry several: a return and a spec view), its
        item price, the journey's cart value after it (unchanged when None) and its item's
        category key (`category_key`)."""
        for sig in signals:
            self.signals.append(sig)
            self.times.append(ts)
        self.ends.append(len(self.signals))
        self.prices.append(price)
        self.carts.append(cart if cart is not None else (self.carts[-1] if self.carts else 0.0))
        self.categories.append(category)


Row = tuple[str, float, str, str | None, float] | tuple[str, float, str, str | None, float,
                                                            str | None]


def build_journeys(events: Iterable[Row], *, purchase: set[str], gap_s: float = 1800.0
                   ) -> list[Journey]:
    """`events`: (customer, time, signal, session id or None, item price[, item category]).
    `purchase`: the signals that count as buying. Journeys come back ordered by start time; the
    cart value follows the record's rule (`profiles.cart_after`), the category is keyed as the
    model keys it (`category_key`)."""
    by_customer: dict[str, list[tuple[float, str, str | None, float, str | None]]] = \
        defaultdict(list)
    for row in events:
        category = category_key(row[5]) if len(row) > 5 else None  # type: ignore[misc]
        by_customer[row[0]].append((row[1], row[2], row[3], row[4], category))
    journeys: list[Journey] = []
    for customer, rows in by_customer.items():
        rows.sort(key=lambda r: r[0])
        current: Journey | None = None
        last_ts = 0.0
        last_session: str | None = None
        for ts, signal, session, price, category in rows:
            if (session is not None and current is not None and current.converted
                    and session == last_session):
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
            if signal in purchase:
                current.converted = True
                current.purchase_at = ts
            else:
                cart = current.carts[-1] if current.carts else 0.0
                current.add(ts, (signal,), price, cart_after(cart, (signal,), price), category)
            last_ts, last_session = ts, session
    journeys = [j for j in journeys if j.signals]  # a purchase with nothing before it
    journeys.sort(key=lambda j: (j.start, j.customer))
    return journeys
