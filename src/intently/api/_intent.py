"""Intent and rules over HTTP: the clusters in use, and validating a segment rule."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from ..engine import Engine
from ..segments import And, Compare, Did, Node, Not, Or, known_field, to_json, to_text
from ._auth import authorize
from ._deps import on_engine
from ._rules import read_rule
from ._schemas import RULE_BODY

router = APIRouter(prefix="/v1", tags=["intent", "rules"])


@router.get("/intent/clusters", summary="The behavioral clusters in use")
async def clusters(request: Request) -> dict[str, Any]:
    authorize(request)

    def read(engine: Engine) -> dict[str, Any]:
        model = engine.clusters
        if model is None:
            return {"version": None, "clusters": []}
        return {"version": model.version, "source": model.source, "metrics": model.metrics,
                "clusters": [asdict(c) for c in model.clusters]}

    return await on_engine(request, read)  # type: ignore[no-any-return]


@router.post("/rules/validate", summary="Check a rule in either form; get both forms back",
             openapi_extra=RULE_BODY)
async def validate_rule(request: Request) -> dict[str, Any]:
    """Body: `{"text": "orders >= 2 and did viewed_video in 7d"}` or `{"rule": {...JSON...}}`.
    Errors are 400 with the position (text) or path (JSON) and what was expected."""
    authorize(request)
    node, _ = await read_rule(request)
    return {"text": to_text(node), "rule": to_json(node),
            "unknown_fields": sorted({f for f in _fields(node) if not known_field(f)})}


def _fields(node: Node) -> list[str]:
    if isinstance(node, Compare):
        return [node.field]
    if isinstance(node, Did):
        return []  # `with` conditions name event properties, not record fields
    if isinstance(node, Not):
        return _fields(node.item)
    assert isinstance(node, And | Or)
    return [f for item in node.items for f in _fields(item)]
