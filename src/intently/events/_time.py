"""Timestamps as real exports write them, normalized to float epoch seconds (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

_fromiso = datetime.fromisoformat
_MS_THRESHOLD = 100_000_000_000  # numbers above this are epoch milliseconds (year 5138 in seconds)


def parse_timestamp(value: object) -> float:
    """Parse ISO 8601 (with or without zone, `Z` or a ` UTC` suffix) or epoch s/ms/µs/ns.

    A naive timestamp is taken as UTC. Raises ValueError with what was wrong.

    >>> parse_timestamp("2019-10-01 00:00:00 UTC")
    1569888000.0
    >>> parse_timestamp("2019-10-01T02:00:00+02:00")
    1569888000.0
    >>> parse_timestamp(1569888000000)
    1569888000.0
    >>> parse_timestamp(1569888000000000)
    1569888000.0
    """
    if type(value) is str and not value.isdigit():
        try:  # the common case, ISO 8601 as Segment sends it, in one C call
            moment = _fromiso(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return _after_floor(moment.timestamp(), value)
    if isinstance(value, bool):
        raise ValueError(f"expected a timestamp, got {value!r}")
    if isinstance(value, int | float):
        return _from_number(float(value))
    if not isinstance(value, str):
        raise ValueError(f"expected a timestamp, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise ValueError("empty timestamp")
    if text[0].isdigit() and text.replace(".", "", 1).isdigit():
        return _from_number(float(text))
    if text.endswith(" UTC") or text.endswith(" utc"):
        text = text[:-4]
    elif text.endswith("UTC"):
        text = text[:-3]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"cannot parse timestamp {value!r}; use ISO 8601 or epoch seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _after_floor(moment.timestamp(), value)


def _after_floor(ts: float, value: object) -> float:
    if ts < 0:
        raise ValueError(f"timestamp {value!r} is before 1970")
    return ts


def _from_number(number: float) -> float:
    """Epoch seconds, milliseconds (JavaScript's `Date.now()`), microseconds (GA4's
    `event_timestamp`) or nanoseconds, told apart by size: each unit's range starts where the
    previous one would pass the year 5138."""
    if number != number or number < 0:
        raise ValueError(f"timestamp out of range: {number!r}")
    for scale in (1.0, 1e3, 1e6, 1e9):
        if number < _MS_THRESHOLD * scale:
            return number / scale
    raise ValueError(f"timestamp out of range: {number!r} (epoch seconds, milliseconds, "
                     "microseconds or nanoseconds)")


def isoformat(ts: float) -> str:
    """Epoch seconds to ISO 8601 UTC with a `Z`, to the millisecond."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
