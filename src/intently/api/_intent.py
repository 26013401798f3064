"""Intent and rules over HTTP: the clusters in use, and validating a segment rule."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from ..engine import Engine
from ..segments import to_json, to_text, unknown_fields
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
            "unknown_fields": sorted(set(unknown_fields(node)))}
