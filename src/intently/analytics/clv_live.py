"""Lifetime value kept current on every record: BG/NBD and Gamma-Gamma fitted on the store's
customers (`intently clv update`), read per record as `clv.p_alive`, `clv.expected_orders_90d`
and `clv.value_90d` in profiles and in rules.

A record's summary comes from its running aggregates: x = orders - 1 (repeat orders; BG/NBD
counts distinct purchase days, an order a day is the usual case), t_x and T from the first and
last order, and the mean order value for spend."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..profiles import Profile
from .clv import BGNBD, WEEK, GammaGamma, fit_bgnbd, fit_gamma_gamma

HORIZON_WEEKS = 90 / 7


@dataclass(frozen=True)
class CLVModel:
    version: str
    bgnbd: BGNBD
    gamma_gamma: GammaGamma
    overall_spend: float
    customers: int

    def predict_one(self, p: Profile, now: float) -> dict[str, Any] | None:
        return self.score(p, now)

    def score(self, p: Profile, now: float) -> dict[str, float] | None:
        """None for a record with no order before `now`, or where the model has no finite
        answer (parameters fitted at their bounds on too little history)."""
        if not p.orders or not p.first_order or p.first_order >= now:
            return None
        x = np.asarray([float(max(p.orders - 1, 0))])
        tx = np.asarray([max(p.last_order - p.first_order, 0.0) / WEEK])
        big_t = np.asarray([max(now - p.first_order, 0.0) / WEEK])
        m = np.asarray([p.revenue / p.orders])
        expected = float(self.bgnbd.expected(HORIZON_WEEKS, x, tx, big_t)[0])
        spend = float(self.gamma_gamma.expected_spend(x, m, self.overall_spend)[0])
        alive = float(self.bgnbd.p_alive(x, tx, big_t)[0])
        if not all(math.isfinite(v) for v in (alive, expected, spend)):
            return None
        return {"p_alive": round(alive, 4), "expected_orders_90d": round(expected, 4),
                "value_90d": round(expected * spend, 2)}

    def to_json(self) -> bytes:
        return json.dumps({"version": self.version, "bgnbd": asdict(self.bgnbd),
                           "gamma_gamma": asdict(self.gamma_gamma),
                           "overall_spend": self.overall_spend,
                           "customers": self.customers}).encode()

    @classmethod
    def from_json(cls, blob: bytes | str) -> CLVModel:
        d: dict[str, Any] = json.loads(blob)
        return cls(d["version"], BGNBD(**d["bgnbd"]), GammaGamma(**d["gamma_gamma"]),
                   float(d["overall_spend"]), int(d["customers"]))


def fit_clv(profiles: Iterable[Profile], now: float, version: str) -> CLVModel:
    rows = [(max(p.orders - 1, 0), max(p.last_order - p.first_order, 0.0) / WEEK,
             (now - p.first_order) / WEEK, p.revenue / p.orders)
            for p in profiles if p.orders and p.first_order and p.first_order < now]
    if len(rows) < 20:
        raise ValueError(f"{len(rows)} customers have ordered; lifetime value needs at least 20")
    x, tx, big_t, m = (np.asarray(col, dtype=float) for col in zip(*rows, strict=True))
    repeat = x > 0
    if repeat.sum() < 5:
        raise ValueError("fewer than 5 customers ordered twice: spend cannot be fitted yet")
    return CLVModel(version, fit_bgnbd(x, tx, big_t, penalty=1e-4), fit_gamma_gamma(x, m),
                    float(m.mean()), len(rows))
