"""Tags: the customer portrait, read off the golden record at any moment (no extra state but
two order counters): category affinity, price sensitivity, preferred channel, best send hour,
lifecycle stage."""

from __future__ import annotations

from typing import Any

from ._aggregates import DISCOUNTED, WON_BACK
from ._profile import Profile

DAY = 86400.0
ACTIVE_DAYS, AT_RISK_DAYS, NEW_DAYS = 60.0, 120.0, 30.0


def lifecycle(p: Profile, now: float) -> str:
    """prospect (never bought), new, active, won back, at risk or lapsed."""
    if not p.orders:
        return "prospect"
    since = (now - p.last_order) / DAY
    if since > AT_RISK_DAYS:
        return "lapsed"
    if since > ACTIVE_DAYS:
        return "at risk"
    if p.counts.get(WON_BACK):
        return "won back"
    if p.orders == 1 and (now - p.first_order) / DAY <= NEW_DAYS:
        return "new"
    return "active"


def price_sensitivity(p: Profile) -> str | None:
    """Share of orders bought on discount: high (60%+), medium (25%+) or low."""
    if not p.orders:
        return None
    share = p.counts.get(DISCOUNTED, 0) / p.orders
    return "high" if share >= 0.6 else "medium" if share >= 0.25 else "low"


def tags(p: Profile, now: float) -> dict[str, Any]:
    channels = p.channels
    hours = list(p.hours)
    return {
        "category_affinity": max(p.categories, key=p.categories.__getitem__)
        if p.categories else None,
        "price_sensitivity": price_sensitivity(p),
        "discount_share": round(p.counts.get(DISCOUNTED, 0) / p.orders, 3) if p.orders else None,
        "preferred_channel": max(channels, key=channels.__getitem__) if channels else None,
        "best_send_hour": hours.index(max(hours)) if any(hours) else None,
        "lifecycle": lifecycle(p, now),
    }


def tag(p: Profile, name: str, now: float) -> Any:
    if name == "lifecycle":
        return lifecycle(p, now)
    if name == "price_sensitivity":
        return price_sensitivity(p)
    return tags(p, now).get(name)
