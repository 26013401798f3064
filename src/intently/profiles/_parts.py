"""The parts of a golden record: packed arrays of figures and times, the entry point, segment
and scenario state. `Profile` itself is in `_record` (compiled with the hot path)."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, cast

import msgspec

if TYPE_CHECKING:  # the element types, for mypy and for the compiled code that reads them
    _Floats = array[float]
    _Ints = array[int]
else:  # (array is not subscriptable at run time before Python 3.12)
    _Floats = _Ints = array

# A list initializer sizes an array exactly; bytes or an iterator over-allocate it by a
# quarter or so.


class Times(_Floats):
    """Event times as packed doubles (8 bytes each instead of a 32-byte float object)."""

    __slots__ = ()

    def __new__(cls, values: Iterable[float] = ()) -> Times:
        return cast(Times, super().__new__(cls, "d", values))


class HourCounts(_Ints):
    """Events per local hour of day, 24 packed 16-bit counters (they stop at 65,535)."""

    __slots__ = ()

    def __new__(cls, values: Iterable[int] | None = None) -> HourCounts:
        return cast(HourCounts, super().__new__(
            cls, "H", values if values is not None else [0] * 24))


# Empty ones without the Python-level `__new__` (a third of the time; the hot path makes one for
# each new record and each windowed condition a record first matches)
new_times = cast(Callable[[], Times], partial(array.__new__, Times, "d"))
# (from bytes: 8 bytes over the exact size, a list would cost three times as long)
new_hours = cast(Callable[[], HourCounts], partial(array.__new__, HourCounts, "H", bytes(48)))


SCALARS = ("first_seen", "last_seen", "session_start", "revenue", "first_order", "last_order",
           "journey_start", "intent", "intent_acc", "key_delta", "key_ts", "cart_value",
           "last_seq", "journal_head")
(FIRST_SEEN, LAST_SEEN, SESSION_START, REVENUE, FIRST_ORDER, LAST_ORDER, JOURNEY_START, INTENT,
 INTENT_ACC, KEY_DELTA, KEY_TS, CART_VALUE, LAST_SEQ, JOURNAL_HEAD) = range(len(SCALARS))
# LAST_SEQ: the log position of the record's latest event, where its timeline starts (each
# event in the log points back to the record's previous one); JOURNAL_HEAD: the same for its
# scenario journal rows, where the store numbers them (SQLite: `store.sqlite`)


class Scalars(_Floats):
    """A record's float figures (`SCALARS`) packed in one array: how they are stored (a
    `Profile` holds them as float fields)."""

    __slots__ = ()

    def __new__(cls, values: Iterable[float] | None = None) -> Scalars:
        return cast(Scalars, super().__new__(
            cls, "d", values if values is not None else [0.0] * len(SCALARS)))


class ScenarioProgress(msgspec.Struct, array_like=True, gc=False):
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

    journeys: dict[str, ScenarioProgress] = {}
    sent: Times = msgspec.field(default_factory=new_times)  # message times, last 7 days
    sent_by: dict[str, Times] = {}  # the same per scenario
    entries: dict[str, int] = {}  # entries per scenario
    exited: dict[str, float] = {}  # last exit per scenario
    pending: dict[str, float] = {}  # scenario -> when an inactivity or date trigger fires
    # inactivity waits that would not let the record in when due, as it stands (no timer;
    # asked again whenever the record changes: `ScenarioBook.release`)
    held: dict[str, float] = {}


class SegmentState(msgspec.Struct, array_like=True, gc=False):
    """What live segments keep on a record (absent for records no segment has touched)."""

    members: tuple[str, ...] = ()  # the segments the customer is in now
    windows: dict[str, Times] | None = None  # recent match times per windowed rule condition
    # where records stored before scenarios had a slot of their own kept their state: read
    # once (decoding moves it to `Profile.sc`), written as None
    legacy_sc: ScenarioState | None = None


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
