"""The golden record of one customer, as kept in the hot-profile cache and checkpointed."""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from sys import intern
from typing import Any

import msgspec


class Times(array):
    """Event times as packed doubles (8 bytes each instead of a 32-byte float object)."""

    __slots__ = ()

    def __new__(cls, values: Iterable[float] = ()) -> Times:
        return super().__new__(cls, "d", values)


class HourCounts(array):
    """Events per local hour of day, 24 packed 16-bit counters (they stop at 65,535)."""

    __slots__ = ()

    def __new__(cls, values: Iterable[int] | None = None) -> HourCounts:
        return super().__new__(cls, "H", values if values is not None else bytes(48))


SCALARS = ("first_seen", "last_seen", "session_start", "revenue", "first_order", "last_order",
           "journey_start", "intent", "intent_acc", "key_delta", "key_ts", "cart_value")
(FIRST_SEEN, LAST_SEEN, SESSION_START, REVENUE, FIRST_ORDER, LAST_ORDER, JOURNEY_START, INTENT,
 INTENT_ACC, KEY_DELTA, KEY_TS, CART_VALUE) = range(len(SCALARS))


class Scalars(array):
    """A record's float figures packed in one array (8 bytes each instead of a 32-byte float
    object and its slot); `Profile` names them with properties."""

    __slots__ = ()

    def __new__(cls, values: Iterable[float] | None = None) -> Scalars:
        return super().__new__(cls, "d", values if values is not None else bytes(8 * len(SCALARS)))


def _scalar(index: int, doc: str) -> Any:
    def get(self: Profile) -> float:
        return self.figures[index]

    def set_(self: Profile, value: float) -> None:
        self.figures[index] = value

    return property(get, set_, doc=doc)


class Journey(msgspec.Struct, array_like=True, gc=False):
    """One customer's run through one scenario."""

    step: int  # the step to run next (len(steps): done, still watching the goal)
    arm: str  # "holdout", "main", or a variant's name
    entered: float
    n: int  # which entry this is (1, 2, ...): part of every message id
    wake: float = 0.0  # when to resume (0: not waiting on time)
    waiting: str | None = None  # the event a wait_for step waits for
    goal_until: float = 0.0  # conversions count until then
    done: bool = False  # steps finished; only the goal is watched
    converted: bool = False
    k: int = 0  # effects emitted so far (message ids stay unique through loops)
    deferred: bool = False  # the current send step already waited for quiet hours to end
    items: list[str] = []  # the products of the event that started it (for recommendations)


class ScenarioState(msgspec.Struct, array_like=True, gc=False):
    """What scenarios keep on a record (absent for records no scenario has touched)."""

    journeys: dict[str, Journey] = {}
    sent: Times = msgspec.field(default_factory=Times)  # message times, last 7 days
    sent_by: dict[str, Times] = {}  # the same per scenario
    entries: dict[str, int] = {}  # entries per scenario
    exited: dict[str, float] = {}  # last exit per scenario
    pending: dict[str, float] = {}  # scenario -> when an inactivity or date trigger fires


class SegmentState(msgspec.Struct, array_like=True, gc=False):
    """What live segments and scenarios keep on a record (absent for records neither has
    touched). One slot on the record for both keeps a record's fixed size down."""

    members: tuple[str, ...] = ()  # the segments the customer is in now
    windows: dict[str, Times] | None = None  # recent match times per windowed rule condition
    sc: ScenarioState | None = None  # scenario journeys, send history, pending triggers


class Touch(msgspec.Struct, array_like=True, gc=False, omit_defaults=True):
    """A journey's entry point: where the customer came from."""

    channel: str = "web"
    source: str | None = None
    campaign: str | None = None
    medium: str | None = None
    referrer: str | None = None
    landing: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not None}


class Profile(msgspec.Struct, array_like=True, gc=False):
    """Everything Intently knows about one customer, updated in O(1) per event.

    Stored as a compact msgpack array; field order is part of the storage format, so new fields
    go at the end with a default.
    """

    id: str
    user_id: str | None = None
    # namespaced keys: "u:42", "a:3f9c...", "e:ann@example.com", "p:+4712345678", and "m:<id>"
    # for each record merged into this one
    identities: list[str] = []
    traits: dict[str, Any] = {}
    figures: Scalars = msgspec.field(default_factory=Scalars)  # named below: first_seen, ...
    events: int = 0
    counts: dict[str, int] = {}  # "e:<event>", "s:<signal>", "c:<channel>": one dict, not three
    sessions: int = 0
    session_events: int = 0
    orders: int = 0
    categories: dict[str, int] = {}
    hours: HourCounts = msgspec.field(default_factory=HourCounts)  # by local hour of day
    tz: str | None = None
    consents: dict[str, bool] = {}
    entry: Touch = msgspec.field(default_factory=Touch)  # first touch of the current journey
    chain: list[str] = []  # signals of the current journey, oldest first (capped)
    chain_ts: Times = msgspec.field(default_factory=Times)
    key_action: str | None = None  # the signal that raised the intent most in this journey
    cluster: str | None = None  # the behavioral cluster the current journey follows
    seg: SegmentState | None = None  # segments, windowed-condition times, scenario journeys

    first_seen = _scalar(FIRST_SEEN, "First event time (epoch seconds).")
    last_seen = _scalar(LAST_SEEN, "Latest event time.")
    session_start = _scalar(SESSION_START, "When the current session began.")
    revenue = _scalar(REVENUE, "Total order value.")
    first_order = _scalar(FIRST_ORDER, "First order time (0: none).")
    last_order = _scalar(LAST_ORDER, "Latest order time (0: none).")
    journey_start = _scalar(JOURNEY_START, "When the current journey began.")
    intent = _scalar(INTENT, "Purchase probability of the current journey, after the last event.")
    intent_acc = _scalar(INTENT_ACC, "The journey's running sum of per-signal model weights.")
    key_delta = _scalar(KEY_DELTA, "How much the key action raised the probability.")
    key_ts = _scalar(KEY_TS, "When the key action happened.")
    cart_value = _scalar(CART_VALUE, "Value added to the cart in this journey, less removals.")

    @property
    def segments(self) -> tuple[str, ...]:
        return self.seg.members if self.seg is not None else ()

    @segments.setter
    def segments(self, members: tuple[str, ...]) -> None:
        if self.seg is None:
            self.seg = SegmentState()
        self.seg.members = members

    @property
    def sc(self) -> ScenarioState | None:
        """Scenario journeys, send history and pending triggers (None: no scenario yet)."""
        return self.seg.sc if self.seg is not None else None

    @sc.setter
    def sc(self, state: ScenarioState | None) -> None:
        if self.seg is None:
            self.seg = SegmentState()
        self.seg.sc = state

    @property
    def windows(self) -> dict[str, Times] | None:
        return self.seg.windows if self.seg is not None else None

    @windows.setter
    def windows(self, windows: dict[str, Times] | None) -> None:
        if self.seg is None:
            self.seg = SegmentState()
        self.seg.windows = windows

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
        return tuple(key[2:] for key in self.identities if key.startswith("m:"))

    @property
    def anonymous_ids(self) -> list[str]:
        return [key[2:] for key in self.identities if key.startswith("a:")]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(msgspec.structs.asdict(self), enc_hook=_enc)
        del data["figures"]
        data.update(zip(SCALARS, self.figures, strict=True))
        data["hours"] = {str(h): n for h, n in enumerate(self.hours) if n}
        data["chain_ts"] = list(self.chain_ts)
        del data["seg"]
        data["scenarios"] = {name: msgspec.to_builtins(j) for name, j in
                             (self.sc.journeys.items() if self.sc is not None else ())}
        data["segments"] = list(self.segments)
        data["merged_from"] = list(self.merged_from)
        data["windows"] = {k: list(v) for k, v in (self.windows or {}).items()}
        data["entry"] = self.entry.to_dict()
        data.update(event_counts=self.event_counts, signal_counts=self.signal_counts,
                    channels=self.channels)
        return data


def _enc(obj: Any) -> Any:
    if isinstance(obj, array):
        return obj.tobytes()
    raise NotImplementedError(type(obj).__name__)


def _dec(kind: type, obj: Any) -> Any:
    if kind in (Times, HourCounts, Scalars) and isinstance(obj, bytes):
        packed = kind(())
        packed.frombytes(obj)
        if kind is Scalars and len(packed) < len(SCALARS):  # written before a figure was added
            packed.extend([0.0] * (len(SCALARS) - len(packed)))
        return packed
    raise NotImplementedError(kind.__name__)


_encoder = msgspec.msgpack.Encoder(enc_hook=_enc)
_decoder = msgspec.msgpack.Decoder(Profile, dec_hook=_dec)


def encode_profile(profile: Profile) -> bytes:
    return _encoder.encode(profile)


def decode_profile(blob: bytes) -> Profile:
    """Decode a stored record, sharing the strings that repeat across records (event, signal,
    category and channel names, entry points, time zones) instead of copying them into each."""
    p = _decoder.decode(blob)
    for name in ("counts", "categories"):
        counts = getattr(p, name)
        if counts:
            setattr(p, name, {intern(k): v for k, v in counts.items()})
    e = p.entry
    p.entry = Touch(*(intern(v) if v else None for v in (e.channel, e.source, e.campaign,
                                                          e.medium, e.referrer, e.landing)))
    if p.chain:
        p.chain = [intern(s) for s in p.chain]
    if p.tz:
        p.tz = intern(p.tz)
    if p.key_action:
        p.key_action = intern(p.key_action)
    if p.cluster:
        p.cluster = intern(p.cluster)
    if p.seg is not None:
        p.seg.members = tuple(intern(s) for s in p.seg.members)
        if p.seg.windows:
            p.seg.windows = {intern(k): v for k, v in p.seg.windows.items()}
    return p
