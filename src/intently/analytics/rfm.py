"""RFM: recency, frequency and monetary quintile scores, and the standard named segments.

Cut points are fitted on the customers who bought (`intently rfm update`); a record is scored
against them at any moment, so the scores stay current as orders come in and time passes."""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..profiles import Profile

# R and F scores to a segment name: the map used across the RFM literature and tools
SEGMENT_MAP = (
    (r"[1-2][1-2]", "hibernating"),
    (r"[1-2][3-4]", "at risk"),
    (r"[1-2]5", "can't lose them"),
    (r"3[1-2]", "about to sleep"),
    (r"33", "need attention"),
    (r"[3-4][4-5]", "loyal customers"),
    (r"41", "promising"),
    (r"51", "new customers"),
    (r"[4-5][2-3]", "potential loyalists"),
    (r"5[4-5]", "champions"),
)
_COMPILED = [(re.compile(p + r"\Z"), name) for p, name in SEGMENT_MAP]


@dataclass(frozen=True)
class RFMScore:
    r: int
    f: int
    m: int
    segment: str

    def to_json(self) -> dict[str, Any]:
        return {"r": self.r, "f": self.f, "m": self.m, "score": f"{self.r}{self.f}{self.m}",
                "segment": self.segment}


@dataclass
class RFMModel:
    version: str
    recency_days: list[float]  # four cut points each
    frequency: list[float]
    monetary: list[float]
    customers: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)

    def score(self, p: Profile, now: float) -> RFMScore | None:
        """None for a customer who never bought."""
        if not p.orders or not p.last_order:
            return None
        days = (now - p.last_order) / 86400.0
        r = 5 - bisect_left(self.recency_days, days)
        f = 1 + bisect_left(self.frequency, p.orders)
        m = 1 + bisect_left(self.monetary, p.revenue)
        return RFMScore(r, f, m, segment_of(r, f))

    def predict_one(self, p: Profile, now: float) -> dict[str, Any] | None:
        """`score`, as JSON."""
        found = self.score(p, now)
        return found.to_json() if found is not None else None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, blob: bytes | str) -> RFMModel:
        return cls(**json.loads(blob))


def segment_of(r: int, f: int) -> str:
    key = f"{r}{f}"
    for pattern, name in _COMPILED:
        if pattern.match(key):
            return name
    return "other"


def fit_rfm(profiles: Iterable[Profile], now: float, version: str) -> RFMModel:
    rows = [((now - p.last_order) / 86400.0, p.orders, p.revenue)
            for p in profiles if p.orders and p.last_order]
    if not rows:
        raise ValueError("no customer has bought yet: RFM needs orders")
    data = np.asarray(rows, dtype=float)
    cuts = [np.quantile(data[:, k], [0.2, 0.4, 0.6, 0.8]).round(6).tolist() for k in range(3)]
    model = RFMModel(version, cuts[0], cuts[1], cuts[2], customers=len(rows))
    grid: dict[str, int] = {}
    for days, orders, _revenue in rows:
        r = 5 - bisect_left(model.recency_days, days)
        f = 1 + bisect_left(model.frequency, orders)
        name = segment_of(r, f)
        grid[name] = grid.get(name, 0) + 1
    model.metrics = {"segments": dict(sorted(grid.items(), key=lambda kv: -kv[1]))}
    return model
