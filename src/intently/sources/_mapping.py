"""Rows of real exports (CSV, flat JSONL, Parquet) to Segment events, by a column mapping."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from .._errors import ValidationError

# Column names of common exports, in order of preference: Segment, GA4's BigQuery export
# (user_pseudo_id, event_timestamp in microseconds, event_name), Mixpanel (distinct_id, time,
# $insert_id), Amplitude (device_id, event_type, insert_id or uuid), and generic shop exports.
_GUESS = {
    "user": ("userId", "user_id", "customer_id", "customerId", "visitor_id", "client_id",
             "distinct_id", "$distinct_id"),
    "anonymous": ("anonymousId", "anonymous_id", "user_pseudo_id", "device_id", "$device_id"),
    "time": ("timestamp", "event_time", "time", "ts", "datetime", "date", "event_timestamp",
             "client_event_time", "server_upload_time"),
    "event": ("event", "event_type", "event_name", "action", "activity"),
    "message": ("messageId", "message_id", "event_id", "$insert_id", "insert_id", "uuid"),
    "type": ("type",),
    "session": ("session_id", "user_session", "session", "sessionId"),
}
NUMERIC = frozenset({"price", "revenue", "total", "value", "quantity", "discount", "amount"})
_CORE = ("userId", "anonymousId", "timestamp", "event", "messageId", "type")
IDENTITY_COLUMNS = {"email": "email", "e-mail": "email", "email_address": "email",
                    "$email": "email", "phone": "phone", "phone_number": "phone",
                    "mobile": "phone", "$phone": "phone"}
"""Columns whose values identify the person: they become traits (identities), not properties."""


@dataclass
class ColumnMap:
    """Which column holds what. Unset columns are guessed from common export names; every other
    non-empty column becomes a property under its own name (or the `--map` name)."""

    user: str | None = None
    time: str | None = None
    event: str | None = None
    anonymous: str | None = None
    message: str | None = None
    type: str | None = None
    session: str | None = None
    properties: dict[str, str] = field(default_factory=dict)  # property name -> column
    default_event: str | None = None

    def resolve(self, columns: list[str]) -> ColumnMap:
        """Fill unset columns with guesses from the header."""
        present = set(columns)
        chosen = {}
        for role, names in _GUESS.items():
            given = getattr(self, role)
            if given is not None:
                chosen[role] = given
                continue
            chosen[role] = next((n for n in names if n in present), None)
        return ColumnMap(**chosen, properties=dict(self.properties),
                         default_event=self.default_event)


def looks_like_segment(row: dict[str, Any]) -> bool:
    return ("userId" in row or "anonymousId" in row) and isinstance(row.get("properties", {}),
                                                                     dict)


def row_to_event(row: dict[str, Any], cmap: ColumnMap, row_number: int) -> dict[str, Any]:
    """One flat row to a Segment event dict (validation happens later, on the event)."""
    out: dict[str, Any] = {"type": "track"}
    used = set()
    for role, key in (("user", "userId"), ("anonymous", "anonymousId"), ("time", "timestamp"),
                      ("event", "event"), ("message", "messageId"), ("type", "type")):
        column = getattr(cmap, role)
        if column is None:
            continue
        used.add(column)
        value = row.get(column)
        if value is not None and value != "":
            out[key] = value if key not in ("userId", "anonymousId") else _id(value)
        elif key == "timestamp":  # not "now": a row of history without its time is an error
            raise ValidationError(f"empty timestamp in column {column!r}",
                                  f"row {row_number}: $.{column}")
    if "event" not in out and cmap.default_event and out["type"] == "track":
        out["event"] = cmap.default_event
    props: dict[str, Any] = {}
    renamed = {column: name for name, column in cmap.properties.items()}
    used.update(renamed)
    for name, column in cmap.properties.items():
        value = row.get(column)
        if value is not None and value != "":
            props[name] = _number(name, value)
    traits: dict[str, Any] = {}
    for column, value in row.items():
        if column in used or value is None or value == "":
            continue
        identity = IDENTITY_COLUMNS.get(column.lower())
        if identity is not None:
            traits[identity] = str(value)
            continue
        name = "session_id" if column == cmap.session else column
        props[name] = _number(name, value)
    if props:
        out["properties"] = props
    if traits:
        out["traits"] = traits
    if "messageId" not in out:
        out["messageId"] = message_id_for(row, row_number)
    return out


def message_id_for(row: dict[str, Any], row_number: int) -> str:
    """Stable per row, so ingesting the same file twice stores nothing twice."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(str(row_number).encode())
    for value in row.values():
        digest.update(b"\x1f" + str(value).encode())
    return "row-" + digest.hexdigest()


def _id(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(name: str, value: Any) -> Any:
    if name in NUMERIC and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value
