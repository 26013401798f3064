"""The O(1) per-event update of a golden record: counts, sessions, journey, RFM, affinities."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from sys import intern
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..events import Event
from ..events.signals import (
    PURCHASED,
    REPEATED_SPEC_VIEW,
    RETURNED_AFTER_GAP,
    VIEWED_SPECS,
    action_of,
)
from ._items import ItemView, observe_event
from ._profile import (
    Profile,
    Times,
    new_times,
)
from ._touch import (
    cart_after,
    category_of,
    channel_of,
    consents_of,
    first_touch,
    line_value,
    revenue_of,
)


@dataclass(frozen=True, slots=True)
class RecordSettings:
    """How events fold into a record."""

    session_gap_s: float = 30 * 60.0
    """Inactivity that closes a session (30 minutes, the web-analytics default)."""
    journey_gap_s: float = 24 * 3600.0
    """Inactivity that closes a journey; a purchase closes it too."""
    return_gap_s: float = 3600.0
    """A gap at least this long makes the next event also a `returned_after_gap` signal."""
    chain_limit: int = 24
    """Signals kept in the current journey's chain (the most recent)."""
    top_categories: int = 12
    """Category affinities kept per customer (space-saving heavy hitters)."""
    lapse_s: float = 120 * 86400.0
    """A customer whose next order comes later than this was won back."""


class Aggregator:
    """Folds one event into one profile. Returns the event's signals, derived ones included."""

    def __init__(self, settings: RecordSettings | None = None) -> None:
        self.settings = settings or RecordSettings()
        # time zone -> (first hour bucket, last hour bucket, the offset throughout)
        self._offsets: dict[str, tuple[int, int, int]] = {}
        self.item_view: ItemView | None = None  # the latest event's item and its features

    def update(self, p: Profile, ev: Event, raw: tuple[str, ...], name: str | None = None
               ) -> tuple[str, ...]:
        """`name`: the event's `action_of`, when the caller has it."""
        s = self.settings
        ts = ev.ts
        props = ev.properties
        ctx = ev.context
        traits = ev.traits
        last: float = p.last_seen
        events = p.events
        chain = p.chain
        gap = ts - last if events else -1.0
        signals = raw
        # -- journey and session boundaries (late events never open one)
        new_journey = events == 0 or gap > s.journey_gap_s or (
            gap >= 0 and len(chain) > 0 and chain[-1] == PURCHASED
        )
        if gap >= s.return_gap_s and raw:
            signals = (RETURNED_AFTER_GAP, *raw)
        if VIEWED_SPECS in raw and VIEWED_SPECS in chain and not new_journey:
            signals = (*signals, REPEATED_SPEC_VIEW)
        if events == 0 or gap > s.session_gap_s:
            p.sessions += 1
            p.session_start = ts
            p.session_events = 0
        p.session_events += 1
        channel = channel_of(ev, props, ctx)
        if new_journey:
            p.journey_start = ts
            p.entry = first_touch(ev, channel)
            chain = p.chain = []
            p.chain_ts = new_times()
            p.cart_value = 0.0
        # -- counts and recency
        p.events = events + 1
        if ts > last:
            p.last_seen = ts
        first: float = p.first_seen
        if first == 0.0 or ts < first:
            p.first_seen = ts
        counts = p.counts
        if name is None:
            name = action_of(ev)
        key = _EVENT_KEYS.get(name) or _new_key(_EVENT_KEYS, "e:", name)
        counts[key] = counts.get(key, 0) + 1
        key = _CHANNEL_KEYS.get(channel) or _new_key(_CHANNEL_KEYS, "c:", channel)
        counts[key] = counts.get(key, 0) + 1
        if signals:
            chain_ts = p.chain_ts
            for sig in signals:
                key = _SIGNAL_KEYS.get(sig) or _new_key(_SIGNAL_KEYS, "s:", sig)
                counts[key] = counts.get(key, 0) + 1
            if len(chain_ts) == 0 or ts >= chain_ts[-1]:
                for sig in signals:
                    chain.append(sig)
                    chain_ts.append(ts)
            elif ts >= p.journey_start:  # a late event of this journey: in its place
                at = bisect_right(chain_ts, ts)
                chain[at:at] = list(signals)
                chain_ts[at:at] = Times([ts] * len(signals))
            # (a late event of a journey already over is counted, not chained)
            over = len(chain) - s.chain_limit
            if over > 0:
                del chain[:over]
                del chain_ts[:over]
        # -- affinities, active hours, monetary, items
        view = None
        if props:
            cat = category_of(props)
            if cat is not None:
                self._count_category(p.categories, cat)
            if "added_to_cart" in raw or "removed_from_cart" in raw:
                p.cart_value = cart_after(p.cart_value, raw, line_value(props))
            if raw:
                view = observe_event(p, props, raw, ts, cat)
        self.item_view = view
        tz = ctx.get("timezone") if ctx else None
        if tz is None and traits:  # a declared trait, as identify calls often carry it
            tz = traits.get("timezone")
        zone = p.tz
        if tz and tz != zone and isinstance(tz, str):
            zone = p.tz = intern(tz)
        hours = p.hours
        hour = self._local_hour(ts, zone)
        if hours[hour] < 65535:
            hours[hour] += 1
        if PURCHASED in raw:
            self._purchase(p, props, ts)
        # -- traits, time zone, consents (identify and friends)
        if traits:
            p.traits.update(traits)
            p.traits.pop("consents", None)  # kept, per channel, in p.consents
        if ev.type != "track" or traits or ev.event in _CONSENT_EVENTS or "consent" in ctx:
            granted = consents_of(ev)
            if granted:
                p.consents.update(granted)
        return signals

    def _purchase(self, p: Profile, props: dict, ts: float) -> None:  # type: ignore[type-arg]
        previous = p.last_order
        p.orders += 1
        p.revenue += revenue_of(props)
        if p.first_order == 0.0 or ts < p.first_order:
            p.first_order = ts
        counts = p.counts
        if discounted(props):
            counts[DISCOUNTED] = counts.get(DISCOUNTED, 0) + 1
        if ts > previous:
            p.last_order = ts
            if previous and ts - previous > self.settings.lapse_s:
                counts[WON_BACK] = 1  # this order ended a lapse
            else:
                counts.pop(WON_BACK, None)

    def _count_category(self, cats: dict[str, int], cat: str) -> None:
        if cat in cats:
            cats[cat] += 1
        elif len(cats) < self.settings.top_categories:
            cats[intern(cat)] = 1
        else:  # space-saving: the newcomer inherits the smallest count, plus one
            smallest = min(cats, key=cats.__getitem__)
            cats[intern(cat)] = cats.pop(smallest) + 1

    def _local_hour(self, ts: float, tz: str | None) -> int:
        bucket = int(ts // 3600)
        if tz is None:
            return bucket % 24
        known = self._offsets.get(tz)  # events come roughly in time order: same day, same zone
        if known is not None and known[0] <= bucket <= known[1]:
            offset = known[2]
        else:
            offset = _offset(tz, bucket)
            # the same offset a day later: the same throughout the day between (no zone
            # changes its clocks twice in a day), so the zone is looked up once a day, not
            # once an hour, where its events are sparse
            last = bucket + 24 if _offset(tz, bucket + 24) == offset else bucket
            if len(self._offsets) > 10_000:
                self._offsets.clear()
            self._offsets[tz] = (bucket, last, offset)
        return int((ts + offset) // 3600) % 24


def _offset(tz: str, bucket: int) -> int:
    """The zone's offset from UTC, in seconds, at the start of this hour bucket (0 for a zone
    the system does not know)."""
    try:
        delta = datetime.fromtimestamp(bucket * 3600, ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(delta.total_seconds()) if delta else 0


# The shared, interned count keys, per kind: "Product Viewed" -> "e:Product Viewed".
_EVENT_KEYS: dict[str, str] = {}
_SIGNAL_KEYS: dict[str, str] = {}
_CHANNEL_KEYS: dict[str, str] = {}


def _new_key(keys: dict[str, str], prefix: str, name: str) -> str:
    if len(keys) > 50_000:
        keys.clear()
    key = keys[name] = intern(prefix + name)
    return key


DISCOUNTED = "o:discounted"  # orders with a discount, in `Profile.counts`
WON_BACK = "o:won_back"  # present when the latest order ended a lapse


def discounted(props: dict) -> bool:  # type: ignore[type-arg]
    """An order bought on discount: a discount, a coupon, or discounted lines."""
    value = props.get("discount")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return True
    if props.get("coupon"):
        return True
    products = props.get("products")
    return isinstance(products, list) and any(
        isinstance(line, dict) and (line.get("discount") or line.get("coupon"))
        for line in products)


_CONSENT_EVENTS = frozenset({"Consent Updated", "Subscribed", "Unsubscribed"})
