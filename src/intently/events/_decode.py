"""Reading events as they arrive: an Event, a Segment-format dict or JSON bytes, one at a time
or a batch at once, with errors that name the bad one."""

from __future__ import annotations

from typing import Any

import msgspec

from .._errors import ValidationError
from ._errors import as_validation_error
from ._model import Event

_decode_event = msgspec.json.Decoder(Event).decode
_decode_events = msgspec.json.Decoder(list[Event]).decode
_convert = msgspec.convert
_NULLABLE = ("properties", "traits", "context")


def as_event(item: Event | dict[str, Any] | bytes, path: str | int = "$") -> Event:
    """Validate one event given as an Event, a Segment-format dict or JSON bytes. `path` says
    where it sits, for errors: a JSONPath, or an index into a list (`$[3]`)."""
    return decode_event(item, path)[0]


def decode_event(item: Event | dict[str, Any] | bytes, path: str | int = "$"
                 ) -> tuple[Event, bool]:
    """`as_event`, and whether JSON bytes given can be stored as they are: not when nulls had
    to be dropped to read them (`"properties": null`, as some libraries send)."""
    root = f"$[{path}]" if isinstance(path, int) else path
    try:
        if isinstance(item, Event):
            return item, True
        if isinstance(item, bytes | bytearray | memoryview):
            try:
                return _decode_event(item), True
            except msgspec.ValidationError:
                data = msgspec.json.decode(item)
                if not isinstance(data, dict) or not _drop_nulls(data):
                    raise
                return _convert(data, Event), False
        if isinstance(item, dict) and _drop_nulls(item):
            item = {k: v for k, v in item.items() if v is not None}
        return _convert(item, Event), True
    except msgspec.MsgspecError as exc:
        raise as_validation_error(exc, root) from None
    except RecursionError:
        raise ValidationError("nested too deeply", root) from None


def decode_batch(items: list[Any], offset: int = 0) -> tuple[list[Event], list[bytes | None]]:
    """Events and, for those given as JSON bytes, the bytes (stored as received). A batch of
    JSON is decoded in one call; if that fails, one at a time, to name the bad one (its index
    counts from `offset`)."""
    if all(type(item) is bytes for item in items):
        try:
            events = _decode_events(b"[" + b",".join(items) + b"]")
        except (msgspec.MsgspecError, RecursionError):
            events = []
        if len(events) == len(items):
            return events, items
    events = []
    raws: list[bytes | None] = []
    for i, item in enumerate(items):
        event, exact = decode_event(item, offset + i)
        events.append(event)
        raws.append(item if exact and type(item) is bytes else None)
    return events, raws


def from_log(payload: bytes, ts: float, received_at: float) -> Event:
    """An event back from the log; its times are the log's columns (the payload may be the
    JSON as received, before filing)."""
    try:
        ev = _decode_event(payload)
    except msgspec.ValidationError:  # stored as received, with nulls
        ev = decode_event(payload, "$")[0]
    ev.ts = ts
    ev.received_at = received_at
    return ev


def _drop_nulls(data: dict[str, Any]) -> bool:
    """Remove top-level nulls (null is as good as absent). Whether any was removed."""
    nulls = [k for k in _NULLABLE if k in data and data[k] is None]
    for k in nulls:
        del data[k]
    return bool(nulls)
