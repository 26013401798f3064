"""Request body schemas for the OpenAPI document.

The routes read their bodies themselves (msgspec decodes straight from bytes, for speed and for
errors that name the JSON path), so FastAPI cannot infer their schemas: they are declared here,
from the same msgspec types where there is one. The fuzz test (`tests/test_fuzz_api.py`)
generates requests from this document.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import FastAPI

from ..events import Event

_REF = "#/components/schemas/{name}"


class IngestBatch(msgspec.Struct, rename="camel", kw_only=True):
    """Segment's batch body."""

    batch: list[Event]
    context: dict[str, Any] | None = None
    sent_at: str | float | None = None
    write_key: str | None = None


_RULE = {"type": "object", "description": 'A rule as text (`{"text": "revenue >= 100"}`) or '
         'as JSON (`{"rule": {...}}`)',
         "properties": {"text": {"type": "string"}, "rule": {"type": "object"},
                        "description": {"type": "string"}}}
_OFFER = {"type": "object", "required": ["name", "when", "offer"],
          "properties": {"name": {"type": "string"},
                         "when": {"type": "array", "items": {"type": "string"}},
                         "offer": {"type": "string"}, "text": {"type": "string"},
                         "discount": {"type": "number"}, "priority": {"type": "integer"},
                         "partner": {"type": "string"}, "audience": {"type": "string"}}}
_SCENARIO = {"type": "object", "description": "A scenario: trigger, steps, policies (JSON; "
             "YAML is accepted too)",
             "properties": {"trigger": {"type": "object"}, "steps": {"type": "array"},
                            "holdout": {"type": "number"}, "policies": {"type": "object"}}}


def body(schema: dict[str, Any] | str, *, required: bool = True,
         media: tuple[str, ...] = ("application/json",)) -> dict[str, Any]:
    """`openapi_extra` for a route whose body has `schema` (a component's name or a schema)."""
    resolved = {"$ref": _REF.format(name=schema)} if isinstance(schema, str) else schema
    return {"requestBody": {"required": required,
                            "content": {m: {"schema": resolved} for m in media}}}


RULE_BODY = body(_RULE)
OFFERS_BODY = body({"type": "array", "items": _OFFER})
SCENARIO_BODY = body(_SCENARIO, media=("application/json", "application/yaml"))


def install(app: FastAPI, types: list[Any]) -> None:
    """Add the msgspec types' schemas to the app's OpenAPI components."""
    _, components = msgspec.json.schema_components(types, ref_template=_REF)
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = plain()
            spec.setdefault("components", {}).setdefault("schemas", {}).update(components)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
