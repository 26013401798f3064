"""Customer clustering on value (RFM), affinities and engagement, with readable profiles, for
the segment screens: "6 groups of customers and what sets each apart"."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..profiles import Profile, tags

DAY = 86400.0
NUMERIC = ("recency_days", "orders", "revenue", "average_order", "sessions", "events_per_session",
           "discount_share", "email_share", "store_share")
PHRASES = {
    "recency_days": ("bought recently", "not bought for a long time"),
    "orders": ("buy rarely", "buy often"),
    "revenue": ("spend little", "spend a lot"),
    "average_order": ("small baskets", "large baskets"),
    "sessions": ("visit rarely", "visit often"),
    "events_per_session": ("short visits", "long visits"),
    "discount_share": ("pay full price", "buy on discount"),
    "email_share": ("ignore email", "engage by email"),
    "store_share": ("shop online", "shop in store"),
}


@dataclass
class CustomerGroup:
    name: str
    size: int
    share: float
    means: dict[str, float]
    top_categories: list[str]
    lifecycle: dict[str, int]


def _row(p: Profile, now: float) -> list[float]:
    channels = p.channels
    total = sum(channels.values()) or 1
    portrait = tags(p, now)
    return [
        (now - p.last_order) / DAY if p.orders else (now - p.first_seen) / DAY,
        p.orders, math.log1p(p.revenue), p.revenue / p.orders if p.orders else 0.0,
        p.sessions, p.events / max(p.sessions, 1), portrait["discount_share"] or 0.0,
        channels.get("email", 0) / total, channels.get("store", 0) / total,
    ]


def cluster_customers(profiles: Iterable[Profile], now: float, k: int = 6, seed: int = 0
                      ) -> list[CustomerGroup]:
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    people = [p for p in profiles if p.events]
    if len(people) < k:
        raise ValueError(f"{len(people)} customers: too few for {k} groups")
    x = np.asarray([_row(p, now) for p in people], dtype=float)
    z = StandardScaler().fit_transform(x)
    labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(z)
    groups = []
    for c in range(k):
        members = labels == c
        centre = z[members].mean(axis=0)
        order = np.argsort(-np.abs(centre))[:3]
        name = ", ".join(PHRASES[NUMERIC[i]][int(centre[i] > 0)] for i in order
                         if abs(centre[i]) >= 0.3) or "typical customers"
        cats: Counter[str] = Counter()
        life: Counter[str] = Counter()
        for p, inside in zip(people, members, strict=True):
            if inside:
                cats.update(p.categories)
                life[tags(p, now)["lifecycle"]] += 1
        groups.append(CustomerGroup(
            name=name, size=int(members.sum()), share=round(float(members.mean()), 4),
            means={n: round(float(v), 3) for n, v in zip(NUMERIC, x[members].mean(axis=0),
                                                          strict=True)},
            top_categories=[c for c, _ in cats.most_common(3)],
            lifecycle=dict(life.most_common())))
    groups.sort(key=lambda g: -g.size)
    seen: Counter[str] = Counter()
    for g in groups:  # twins get a number
        seen[g.name] += 1
        if seen[g.name] > 1:
            g.name = f"{g.name} ({seen[g.name]})"
    return groups


def to_json(groups: list[CustomerGroup]) -> list[dict[str, Any]]:
    return [vars(g) for g in groups]
