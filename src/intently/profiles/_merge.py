"""Folding one golden record into another when identity resolution finds they are one person."""

from __future__ import annotations

from ._items import merge_items
from ._profile import Profile, Times


def _add(into: dict, other: dict) -> None:  # type: ignore[type-arg]
    for key, value in other.items():
        into[key] = into.get(key, 0) + value


def merge_into(into: Profile, other: Profile, chain_limit: int = 24) -> None:
    """Fold `other` into `into`: sums add, extremes take the extreme, `into` wins conflicts."""
    into.identities.extend(k for k in (*other.identities, "m:" + other.id)
                           if k not in into.identities)
    into.traits = {**other.traits, **into.traits}
    into.consents = {**other.consents, **into.consents}
    if other.sc is not None:  # scenario journeys: `into` keeps its own, adopts the others
        if into.sc is None:
            into.sc = other.sc
        else:
            for name, journey in other.sc.journeys.items():
                into.sc.journeys.setdefault(name, journey)
            kept = into.sc
            for name, due in other.sc.pending.items():
                if name not in kept.held:
                    kept.pending.setdefault(name, due)
            for name, due in other.sc.held.items():  # looked at again after the merge
                if name not in kept.pending:
                    kept.held.setdefault(name, due)
    matched = other.windows
    if matched:  # windowed rule conditions count the other record's matches too
        windows = into.windows
        if windows is None:
            windows = into.windows = {}
        for key, times in matched.items():
            # each side kept the times its rules ask about; the next match trims to that
            windows[key] = Times(sorted([*windows.get(key, ()), *times]))
    into.tz = into.tz or other.tz
    into.user_id = into.user_id or other.user_id
    if other.events:
        firsts = [t for t in (into.first_seen, other.first_seen) if t]
        into.first_seen = min(firsts)
        into.last_seen = max(into.last_seen, other.last_seen)
    into.events += other.events
    into.sessions += other.sessions
    into.orders += other.orders
    into.revenue += other.revenue
    orders = [t for t in (into.first_order, other.first_order) if t]
    into.first_order = min(orders) if orders else 0.0
    into.last_order = max(into.last_order, other.last_order)
    for mine, theirs in (
        (into.counts, other.counts),
        (into.categories, other.categories),
    ):
        _add(mine, theirs)
    for hour, n in enumerate(other.hours):
        into.hours[hour] = min(65535, into.hours[hour] + n)
    # The live journey is the one with the latest activity (an anonymous visitor who just
    # signed in); steps of the other record that fall inside it join it, in time order.
    live, stale = (other, into) if other.last_seen >= into.last_seen else (into, other)
    start = live.journey_start
    pairs = [(t, s) for t, s in zip(stale.chain_ts, stale.chain, strict=True) if t >= start]
    pairs = sorted([*pairs, *zip(live.chain_ts, live.chain, strict=True)])[-chain_limit:]
    into.chain = [sig for _, sig in pairs]
    into.chain_ts = Times(ts for ts, _ in pairs)
    into.journey_start = start
    into.entry = live.entry
    # The live journey's score and key action come with it (steps of the other record that
    # joined the chain are not re-scored: the next event continues from the live running sum).
    into.intent, into.intent_acc = live.intent, live.intent_acc
    into.key_delta, into.key_ts, into.key_action = live.key_delta, live.key_ts, live.key_action
    items = into.items = merge_items(into.items, other.items)
    if items:  # the live journey's key action: its facts too
        items[0] = live.items[0] if live.items else 0
    if other.session_start > into.session_start:
        into.session_start = other.session_start
        into.session_events = other.session_events
