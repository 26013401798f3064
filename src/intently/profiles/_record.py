"""The golden record of one customer, as the pipeline updates it.

A plain class with slots, so that the compiled hot path reads and writes its fields directly
(a field of a msgspec Struct costs compiled code a generic attribute lookup, about 20 ns; a
field of a compiled class, under 1 ns). `_profile` stores it as the msgpack array of
`FIELDS`, in this order: the order is the storage format, so new fields go at the end.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

import msgspec

from ._items import ItemMemory, describe
from ._parts import (
    SCALARS,
    HourCounts,
    ScenarioState,
    SegmentState,
    Times,
    Touch,
    new_hours,
    new_times,
)

FIELDS = ("id", "user_id", "identities", "traits", "figures", "events", "counts", "sessions",
          "session_events", "orders", "categories", "hours", "tz", "consents", "entry", "chain",
          "chain_ts", "key_action", "cluster", "seg", "sc", "items")


class Profile:
    """Everything Intently knows about one customer, updated in O(1) per event.

    The figures (`SCALARS`: first_seen, last_seen, ... last_seq) are float fields: compiled,
    each is a plain double in the record, read and written with no boxing. They are stored
    packed, as the `figures` array of `FIELDS`."""

    __slots__ = (*[f for f in FIELDS if f != "figures"], *SCALARS)

    def __init__(
        self,
        id: str,
        user_id: str | None = None,
        identities: list[str] | None = None,
        traits: dict[str, Any] | None = None,
        figures: Sequence[float] | None = None,
        events: int = 0,
        counts: dict[str, int] | None = None,
        sessions: int = 0,
        session_events: int = 0,
        orders: int = 0,
        categories: dict[str, int] | None = None,
        hours: HourCounts | None = None,
        tz: str | None = None,
        consents: dict[str, bool] | None = None,
        entry: Touch | None = None,
        chain: list[str] | None = None,
        chain_ts: Times | None = None,
        key_action: str | None = None,
        cluster: str | None = None,
        seg: SegmentState | None = None,
        sc: ScenarioState | None = None,
        items: ItemMemory | None = None,
    ) -> None:
        self.id = id
        self.user_id = user_id
        # namespaced keys: "u:42", "a:3f9c...", "e:ann@example.com", "p:+4712345678", and
        # "m:<id>" for each record merged into this one
        self.identities: list[str] = identities if identities is not None else []
        self.traits: dict[str, Any] = traits if traits is not None else {}
        self.events = events
        # "e:<event>", "s:<signal>", "c:<channel>": one dict, not three
        self.counts: dict[str, int] = counts if counts is not None else {}
        self.sessions = sessions
        self.session_events = session_events
        self.orders = orders
        self.categories: dict[str, int] = categories if categories is not None else {}
        self.hours: HourCounts = hours if hours is not None else new_hours()  # by local hour
        self.tz = tz
        self.consents: dict[str, bool] = consents if consents is not None else {}
        self.entry: Touch = entry if entry is not None else Touch()  # the journey's first touch
        self.chain: list[str] = chain if chain is not None else []  # the journey's signals
        self.chain_ts: Times = chain_ts if chain_ts is not None else new_times()
        self.key_action = key_action  # the signal that raised the intent most in this journey
        self.cluster = cluster  # the behavioral cluster the current journey follows
        self.seg = seg  # segments and windowed-condition times (None: no segment yet)
        # scenario journeys, send history and pending triggers (None: no scenario yet)
        self.sc = sc
        self.items = items  # the items touched most recently (None: none named yet)
        f = figures if figures is not None and len(figures) >= len(SCALARS) else (
            [*(figures or ()), *[0.0] * (len(SCALARS) - len(figures or ()))])
        self.first_seen: float = f[0]  # first event time (epoch seconds)
        self.last_seen: float = f[1]  # latest event time
        self.session_start: float = f[2]  # when the current session began
        self.revenue: float = f[3]  # total order value
        self.first_order: float = f[4]  # first order time (0: none)
        self.last_order: float = f[5]  # latest order time (0: none)
        self.journey_start: float = f[6]  # when the current journey began
        self.intent: float = f[7]  # purchase probability of the journey, after the last event
        self.intent_acc: float = f[8]  # the journey's running sum of per-signal model weights
        self.key_delta: float = f[9]  # how much the key action raised the probability
        self.key_ts: float = f[10]  # when the key action happened
        self.cart_value: float = f[11]  # value added to the cart in this journey, less removals
        self.last_seq: float = f[12]  # log position of the latest event (0: none): its timeline
        self.journal_head: float = f[13]  # its newest journal row, where numbered (0: none)

    @property
    def figures(self) -> tuple[float, ...]:
        """The figures in `SCALARS` order (a copy: set them by name)."""
        return (self.first_seen, self.last_seen, self.session_start, self.revenue,
                self.first_order, self.last_order, self.journey_start, self.intent,
                self.intent_acc, self.key_delta, self.key_ts, self.cart_value, self.last_seq,
                self.journal_head)

    def fields(self) -> tuple[Any, ...]:
        """The values of `FIELDS`, in order (the figures as a tuple)."""
        return (self.id, self.user_id, self.identities, self.traits, self.figures,
                self.events, self.counts, self.sessions, self.session_events, self.orders,
                self.categories, self.hours, self.tz, self.consents, self.entry, self.chain,
                self.chain_ts, self.key_action, self.cluster, self.seg, self.sc, self.items)

    def stored(self) -> tuple[Any, ...]:
        """`fields()` with the packed arrays as their bytes: what the storage format holds."""
        return (self.id, self.user_id, self.identities, self.traits,
                array("d", self.figures).tobytes(), self.events, self.counts, self.sessions,
                self.session_events, self.orders, self.categories, self.hours.tobytes(),
                self.tz, self.consents, self.entry, self.chain, self.chain_ts.tobytes(),
                self.key_action, self.cluster, self.seg, self.sc,
                self.items.tobytes() if self.items is not None else None)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Profile) and self.fields() == other.fields()

    def __repr__(self) -> str:
        return f"Profile(id={self.id!r}, events={self.events})"

    # -- segment state
    @property
    def segments(self) -> tuple[str, ...]:
        return self.seg.members if self.seg is not None else ()

    @segments.setter
    def segments(self, members: tuple[str, ...]) -> None:
        if self.seg is None:
            self.seg = SegmentState()
        self.seg.members = members

    @property
    def windows(self) -> dict[str, Times] | None:
        return self.seg.windows if self.seg is not None else None

    @windows.setter
    def windows(self, windows: dict[str, Times] | None) -> None:
        if self.seg is None:
            self.seg = SegmentState()
        self.seg.windows = windows

    # -- views
    def key_detail(self, item: str | None = None) -> str | None:
        """How an item made the journey's key action, for people ("viewed_product `item`
        again after 3 h (in the cart)"; `item`: the key event's item id, which the record does
        not keep); None when no item made it."""
        items = self.items
        if not items or not self.key_action:
            return None
        return describe(items[0], self.key_action, item)

    def _counts(self, prefix: str) -> dict[str, int]:
        return {k[2:]: n for k, n in self.counts.items() if k.startswith(prefix)}

    @property
    def event_counts(self) -> dict[str, int]:
        return self._counts("e:")

    @property
    def signal_counts(self) -> dict[str, int]:
        return self._counts("s:")

    @property
    def channels(self) -> dict[str, int]:
        return self._counts("c:")

    def signal_count(self, signal: str) -> int:
        return self.counts.get("s:" + signal, 0)

    @property
    def merged_from(self) -> tuple[str, ...]:
        """Ids of the records merged into this one."""
        return tuple([key[2:] for key in self.identities if key.startswith("m:")])

    @property
    def anonymous_ids(self) -> list[str]:
        return [key[2:] for key in self.identities if key.startswith("a:")]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "user_id": self.user_id, "identities": list(self.identities),
            "traits": msgspec.to_builtins(self.traits), "events": self.events,
            "counts": dict(self.counts), "sessions": self.sessions,
            "session_events": self.session_events, "orders": self.orders,
            "categories": dict(self.categories),
            "hours": {str(h): n for h, n in enumerate(self.hours) if n}, "tz": self.tz,
            "consents": dict(self.consents), "entry": self.entry.to_dict(),
            "chain": list(self.chain), "chain_ts": list(self.chain_ts),
            "key_action": self.key_action, "cluster": self.cluster,
            "key_detail": self.key_detail(),
            "items": self.items.to_dict() if self.items is not None else []}
        data.update(zip(SCALARS, self.figures, strict=True))
        sc = self.sc
        data["scenarios"] = {name: msgspec.to_builtins(j) for name, j in
                             (sc.journeys.items() if sc is not None else ())}
        data["segments"] = list(self.segments)
        data["merged_from"] = list(self.merged_from)
        data["windows"] = {k: list(v) for k, v in (self.windows or {}).items()}
        data.update(event_counts=self.event_counts, signal_counts=self.signal_counts,
                    channels=self.channels)
        return data
