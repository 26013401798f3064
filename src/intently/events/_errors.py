"""msgspec's decode errors to Intently's ValidationError with a JSONPath."""

from __future__ import annotations

import re

import msgspec

from .._errors import ValidationError

_AT = re.compile(r"^(?P<msg>.*?) - at `(?P<path>\$[^`]*)`$", re.S)
_FIELD = re.compile(
    r"^(?P<field>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[(?:\d+|\"(?:[^\"\\]|\\.)*\")\])*)"
    r": (?P<msg>.*)$", re.S)


def as_validation_error(err: msgspec.MsgspecError, root: str = "$") -> ValidationError:
    """Turn `Expected str, got int - at $.batch[0].userId` into a message and a path.

    Paths are rebased on `root` (the index of a row in a file, say).
    """
    text = str(err)
    if isinstance(err, msgspec.DecodeError) and not isinstance(err, msgspec.ValidationError):
        return ValidationError(f"malformed JSON: {text}", root)
    match = _AT.match(text)
    message, path = (match["msg"], match["path"]) if match else (text, "$")
    field = _FIELD.match(message)
    if field:
        message, path = field["msg"], f"{path}.{field['field']}"
    return ValidationError(message, root + path[1:])
