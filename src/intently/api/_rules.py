"""Reading a rule from a request body, in either form."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import Request

from .._errors import ValidationError
from ..segments import Node, from_json, parse
from ._body import admin_body


async def read_rule(request: Request) -> tuple[Node, dict[str, Any]]:
    """`{"text": "..."}` or `{"rule": {...}}` (plus any other fields, returned as they are)."""
    try:
        body = msgspec.json.decode(await admin_body(request))
    except msgspec.DecodeError as exc:
        raise ValidationError(f"malformed JSON: {exc}", "$") from None
    if not isinstance(body, dict) or ("text" in body) == ("rule" in body):
        raise ValidationError('send {"text": "..."} or {"rule": {...}}', "$")
    if "text" in body:
        if not isinstance(body["text"], str):
            raise ValidationError("text must be a string", "$.text")
        return parse(body["text"]), body
    return from_json(body["rule"], "$.rule"), body
