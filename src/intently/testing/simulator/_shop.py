"""The shop simulator: a deterministic population of customers in behavior archetypes, their
journeys as Segment events in time order, and the ground truth to check models against."""

from __future__ import annotations

import csv
import heapq
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ._archetypes import ARCHETYPES, Archetype
from ._catalog import Catalog

DEFAULT_START = datetime(2026, 10, 1, tzinfo=UTC).timestamp()
TIMEZONES = ("America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin",
             "Europe/Moscow", "Asia/Tokyo")
SOURCES = {
    "researcher": ("youtube", "google"), "impulse_buyer": ("instagram", "tiktok"),
    "cart_abandoner": ("google", "facebook"), "bargain_hunter": ("newsletter",),
    "loyal_regular": ("newsletter", "direct"), "churning": ("direct", "google"),
    "window_shopper": ("google", "pinterest"),
}
CSV_COLUMNS = ("timestamp", "type", "event", "user_id", "anonymous_id", "message_id",
               "product_id", "category", "price", "revenue", "order_id", "timezone")


@dataclass(slots=True)
class PlannedVisit:
    start: float
    buys: bool
    seed: int


@dataclass(slots=True)
class Customer:
    index: int
    user_id: str
    anonymous_id: str
    archetype: Archetype
    timezone: str
    email: str
    consents: dict[str, bool]
    journeys: list[PlannedVisit] = field(default_factory=list)
    identified: bool = False

    @property
    def will_purchase(self) -> bool:
        return any(j.buys for j in self.journeys)


class Shop:
    """`Shop(users=1000, days=30, seed=7).events()` yields Segment-format dicts in time order.

    `truth()` gives each customer's archetype and whether they buy; `journey_truth()` each
    journey's outcome. Same seed, same shop."""

    def __init__(self, users: int = 1000, days: float = 30.0, seed: int = 7,
                 start: float = DEFAULT_START, first: int = 0) -> None:
        """`first`: the number of the first customer (`c000000` by default): another
        population, or the same people (on other devices, with another seed)."""
        self.users, self.days, self.seed, self.start = users, days, seed, start
        self.first = first
        self.catalog = Catalog()
        self.customers = [self._customer(i) for i in range(users)]

    def _customer(self, i: int) -> Customer:
        rng = random.Random(f"{self.seed}:customer:{i}")
        archetype = rng.choices(ARCHETYPES, weights=[a.share for a in ARCHETYPES])[0]
        tz = rng.choice(TIMEZONES)
        consents = {"email": rng.random() < 0.85, "sms": rng.random() < 0.4,
                    "push": rng.random() < 0.5}
        n = self.first + i
        c = Customer(i, f"c{n:06d}", f"anon-{rng.getrandbits(48):012x}", archetype, tz,
                     f"customer{n}@example.com", consents)
        c.identified = archetype.known_from_start
        expected = archetype.journeys_per_month * self.days / 30.0
        n = max(1, _poisson(rng, expected))
        hour = rng.gauss(10 if archetype.name == "loyal_regular" else 20, 2.5)
        zone = ZoneInfo(tz)
        for k in range(n):
            day = math.floor(rng.random() * self.days)
            local = self.start + day * 86400 + (hour % 24 + rng.gauss(0, 1)) * 3600
            offset = datetime.fromtimestamp(local, zone).utcoffset()
            start = local - (offset.total_seconds() if offset else 0.0)
            rate = archetype.purchase_rate
            if archetype.name == "churning":  # buys early, then fades away
                rate = 0.6 if day < self.days / 3 else 0.02
            c.journeys.append(PlannedVisit(start, rng.random() < rate, rng.getrandbits(32) + k))
        c.journeys.sort(key=lambda j: j.start)
        return c

    # -- the stream
    def events(self) -> Iterator[dict[str, Any]]:
        for c in self.customers:  # a fresh run replays identity from the start
            c.identified = c.archetype.known_from_start
        plan = sorted((j.start, c.index, k) for c in self.customers
                      for k, j in enumerate(c.journeys))
        pending: list[tuple[float, int, dict[str, Any]]] = []
        n = 0
        for start, index, k in plan:
            while pending and pending[0][0] <= start:
                yield heapq.heappop(pending)[2]
            for ts, event in self._journey(self.customers[index], k):
                n += 1
                heapq.heappush(pending, (ts, n, event))
        while pending:
            yield heapq.heappop(pending)[2]

    def _journey(self, c: Customer, k: int) -> list[tuple[float, dict[str, Any]]]:
        journey = c.journeys[k]
        rng = random.Random(journey.seed)
        steps = c.archetype.write(rng, self.catalog, journey.buys)
        source = rng.choice(SOURCES[c.archetype.name])
        out = []
        for j, (minutes, name, props) in enumerate(steps):
            ts = journey.start + minutes * 60.0
            if not c.identified and name in ("Product Added", "Order Completed", "Product Shared"):
                c.identified = True
                out.append((ts - 1.0, self._identify(c, ts - 1.0, k)))
            context: dict[str, Any] = {"timezone": c.timezone}
            if j == 0:
                context["campaign"] = {"source": source, "medium": _medium(source),
                                       "name": props.get("campaign", f"{source}-always-on")}
                context["page"] = {"url": f"https://shop.example/{props.get('category', 'home')}"}
            event: dict[str, Any] = {
                "type": "track", "event": name, "messageId": f"sim{self.seed}-{c.index}-{k}-{j}",
                "timestamp": _iso(ts), "anonymousId": c.anonymous_id, "properties": props,
                "context": context,
            }
            if c.identified:
                event["userId"] = c.user_id
            out.append((ts, event))
        return out

    def _identify(self, c: Customer, ts: float, k: int) -> dict[str, Any]:
        return {"type": "identify", "userId": c.user_id, "anonymousId": c.anonymous_id,
                "messageId": f"sim{self.seed}-{c.index}-{k}-id", "timestamp": _iso(ts),
                "traits": {"email": c.email, "first_name": f"Customer {c.index}",
                           "consents": c.consents},
                "context": {"timezone": c.timezone}}

    # -- ground truth and files
    def truth(self) -> dict[str, dict[str, Any]]:
        """Per customer (by user id and by anonymous id): archetype and will_purchase."""
        out: dict[str, dict[str, Any]] = {}
        for c in self.customers:
            row = {"user_id": c.user_id, "archetype": c.archetype.name,
                   "will_purchase": c.will_purchase, "journeys": len(c.journeys),
                   "purchases": sum(j.buys for j in c.journeys), "timezone": c.timezone}
            out[c.user_id] = out[c.anonymous_id] = row
        return out

    def journey_truth(self) -> list[dict[str, Any]]:
        return [{"user_id": c.user_id, "archetype": c.archetype.name, "start": j.start,
                 "converted": j.buys} for c in self.customers for j in c.journeys]

    def write(self, path: str | Path) -> int:
        """Write the stream as JSONL (Segment events) or CSV (flat columns, for mapping)."""
        path = Path(path)
        n = 0
        with path.open("w", newline="") as fh:
            if path.suffix == ".csv":
                writer = csv.writer(fh)
                writer.writerow(CSV_COLUMNS)
                for ev in self.events():
                    writer.writerow(_flat(ev))
                    n += 1
            else:
                for ev in self.events():
                    fh.write(json.dumps(ev, separators=(",", ":")) + "\n")
                    n += 1
        return n


def _flat(ev: dict[str, Any]) -> list[Any]:
    p = ev.get("properties", {})
    return [ev["timestamp"], ev["type"], ev.get("event", ""), ev.get("userId", ""),
            ev.get("anonymousId", ""), ev["messageId"], p.get("product_id", ""),
            p.get("category", ""), p.get("price", ""), p.get("revenue", ""),
            p.get("order_id", ""), ev.get("context", {}).get("timezone", "")]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _medium(source: str) -> str:
    return {"newsletter": "email", "google": "cpc", "direct": "none"}.get(source, "social")


def _poisson(rng: random.Random, lam: float) -> int:
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1
