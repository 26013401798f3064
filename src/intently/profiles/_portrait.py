"""Tags: the customer portrait, read off the golden record at any moment (no extra state but
two order counters): category affinity, price sensitivity, preferred channel, best send hour,
lifecycle stage."""

from __future__ import annotations

from collections.abc import Callable
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


def _category_affinity(p: Profile, now: float) -> str | None:
    return max(p.categories, key=p.categories.__getitem__) if p.categories else None


def _discount_share(p: Profile, now: float) -> float | None:
    return round(p.counts.get(DISCOUNTED, 0) / p.orders, 3) if p.orders else None


def _preferred_channel(p: Profile, now: float) -> str | None:
    channels = p.channels
    return max(channels, key=channels.__getitem__) if channels else None


def _best_send_hour(p: Profile, now: float) -> int | None:
    hours = list(p.hours)
    return hours.index(max(hours)) if any(hours) else None


_TAGS: dict[str, Callable[[Profile, float], Any]] = {
    "category_affinity": _category_affinity,
    "price_sensitivity": lambda p, now: price_sensitivity(p),
    "discount_share": _discount_share,
    "preferred_channel": _preferred_channel,
    "best_send_hour": _best_send_hour,
    "lifecycle": lifecycle,
}


def tags(p: Profile, now: float) -> dict[str, Any]:
    """Every tag of the record at `now`."""
    return {name: make(p, now) for name, make in _TAGS.items()}


def tag(p: Profile, name: str, now: float) -> Any:
    """One tag, worked out alone (None for a name that is no tag)."""
    make = _TAGS.get(name)
    return make(p, now) if make is not None else None
