"""A scenario's results per arm, and what the holdout says they are worth.

Conversion rate is converted journeys over entered journeys. The uplift of an arm is its rate
minus the holdout's, with Newcombe's 95% interval for a difference of two proportions (hybrid
Wilson score, method 10 in Newcombe 1998: it keeps its coverage for small counts and rates near
0, where the textbook Wald interval does not). A winner is named only when its interval lies
above zero and, with several variants, above the runner-up as well."""

from __future__ import annotations

import math
from typing import Any

from ..store import ReadModels

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denom = 1 + z * z / n
    return (centre - half) / denom, (centre + half) / denom


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float, float, float]:
    """(difference p1 - p2, lower, upper)."""
    p1 = x1 / n1 if n1 else 0.0
    p2 = x2 / n2 if n2 else 0.0
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    d = p1 - p2
    lower = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, lower, upper


def two_proportion_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of the pooled z test."""
    if not n1 or not n2:
        return 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    zval = (x1 / n1 - x2 / n2) / se
    return math.erfc(abs(zval) / math.sqrt(2))


def report(store: ReadModels, name: str) -> dict[str, Any]:
    arms: dict[str, dict[str, Any]] = {}

    def arm(a: str) -> dict[str, Any]:
        return arms.setdefault(a, {"entered": 0, "customers": 0, "sent": 0, "suppressed": 0,
                                   "delivered": 0, "logged": 0, "failed": 0, "opened": 0,
                                   "clicked": 0,
                                   "conversions": 0, "revenue": 0.0})

    for a, kind, rows, value, customers in store.journal_counts(name):
        row = arm(a)
        if kind == "entered":
            row["entered"] = rows
            row["customers"] = customers
        elif kind == "converted":
            row["conversions"] = rows
            row["revenue"] = round(value or 0.0, 2)
        elif kind in ("sent", "suppressed", "opened", "clicked"):
            row[kind] = rows
    for (a, status), n in store.outbox_counts(name).items():
        row = arm(a)
        if status == "delivered":
            row["delivered"] += n
        elif status == "logged":  # no channel configured: written to the log, not sent
            row["logged"] += n
        elif status in ("failed", "expired"):
            row["failed"] += n
    for row in arms.values():
        row["conversion_rate"] = round(row["conversions"] / row["entered"], 4) if (
            row["entered"]) else 0.0
        row["revenue_per_entry"] = round(row["revenue"] / row["entered"], 2) if (
            row["entered"]) else 0.0
    hold = arms.get("holdout")
    treated = [a for a in arms if a != "holdout"]
    if hold is not None:
        for a in treated:
            row = arms[a]
            d, lo, hi = newcombe(row["conversions"], row["entered"], hold["conversions"],
                                 hold["entered"])
            row["uplift"] = {"difference": round(d, 4), "ci95": [round(lo, 4), round(hi, 4)],
                             "relative": round(d / hold["conversion_rate"], 4)
                             if hold["conversion_rate"] else None,
                             "p_value": round(two_proportion_p(
                                 row["conversions"], row["entered"], hold["conversions"],
                                 hold["entered"]), 6),
                             "significant": lo > 0 or hi < 0}
    winner, reason = None, "no holdout to compare with" if hold is None else (
        "no arm is significantly better than the holdout")
    if hold is not None:
        better = sorted((a for a in treated if arms[a]["uplift"]["ci95"][0] > 0),
                        key=lambda a: arms[a]["conversion_rate"], reverse=True)
        if better:
            best = better[0]
            rivals = [a for a in treated if a != best]
            if not rivals:
                winner, reason = best, "significantly better than the holdout"
            else:
                runner = max(rivals, key=lambda a: arms[a]["conversion_rate"])
                _, lo, _ = newcombe(arms[best]["conversions"], arms[best]["entered"],
                                    arms[runner]["conversions"], arms[runner]["entered"])
                if lo > 0:
                    winner, reason = best, f"significantly better than the holdout and {runner}"
                else:
                    reason = (f"{best} beats the holdout, but not {runner} significantly; "
                              "keep testing")
    return {"scenario": name, "arms": dict(sorted(arms.items())), "winner": winner,
            "reason": reason}
