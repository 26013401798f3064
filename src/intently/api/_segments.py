"""Segments over HTTP: list, define (text or JSON rule), members (JSON or CSV), delete."""

from __future__ import annotations

import csv
import io
from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request, Response

from .._errors import NotFound, ValidationError
from ..engine import Engine, analysable, segment_state
from ..segments import Node, Segment, check_fields
from ..store import Member
from ._audit import audited_change
from ._auth import authorize, require_change
from ._deps import Definitions, on_engine
from ._rules import read_rule
from ._schemas import RULE_BODY

router = APIRouter(prefix="/v1", tags=["segments"])



@router.get("/segments", summary="Segments with their rules and sizes")
async def list_segments(request: Request) -> list[dict[str, Any]]:
    authorize(request)

    def read(engine: Engine) -> list[dict[str, Any]]:
        engine.settle()  # member lists are written at checkpoints
        sizes = engine.read_models.segment_sizes()
        return [{**seg.to_json(), "size": sizes.get(name, 0)}
                for name, seg in engine.segment_definitions.items()]

    return await on_engine(request, read)  # type: ignore[no-any-return]


async def _segment_rule(request: Request) -> tuple[Node, dict[str, Any]]:
    """A new segment's rule: as any rule, and on fields a record has (400 names the one it
    lacks: a typo would make a segment that silently matches no one)."""
    rule, body = await read_rule(request)
    check_fields(rule, "$.text" if "text" in body else "$.rule")
    return rule, body


@router.put("/segments/{name}", summary='Define a segment: {"text": "..."} or {"rule": {...}}',
            openapi_extra=RULE_BODY)
async def put_segment(request: Request, name: str) -> dict[str, Any]:
    actor = authorize(request)
    rule, body = await _segment_rule(request)
    segment = Segment(name, rule, str(body.get("description", "")))

    def write(engine: Engine) -> dict[str, Any]:
        changes = engine.put_segment(segment)
        return {**segment.to_json(), "entered": sum(c.entered for c in changes)}

    return await audited_change(request, actor, "segment.put", name, segment_state(name), write)


@router.delete("/segments/{name}", summary="Delete a segment; its members leave it")
async def delete_segment(request: Request, name: str) -> dict[str, Any]:
    actor = authorize(request)

    def write(engine: Engine) -> dict[str, Any]:
        return {"name": name, "left": len(engine.remove_segment(name))}

    return await audited_change(request, actor, "segment.delete", name, segment_state(name), write)


@router.get("/segments/{name}/members", summary="Members, as JSON or CSV (?format=csv)")
async def members(request: Request, name: str, format: str = Query("json"),
                  limit: int = Query(1000, ge=1, le=1_000_000),
                  offset: int = Query(0, ge=0, le=10**12),
                  pseudonymous: bool = Query(False, description="Keyed hashes instead of "
                                             "record ids, for analysts")) -> Response:
    authorize(request)

    def read(engine: Engine) -> list[Member]:
        if name not in engine.segment_definitions:
            raise NotFound(f"no segment {name!r}")
        engine.settle()
        rows = engine.read_models.segment_members(name, limit=limit, offset=offset)
        if pseudonymous:
            rows = [Member(engine.privacy.pseudonym(p), s) for p, s in rows]
        return rows

    rows = await on_engine(request, read)
    column = "pseudonym" if pseudonymous else "profile_id"
    if format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([column, "since"])
        writer.writerows(rows)
        return Response(out.getvalue(), media_type="text/csv")
    data = {"segment": name, "members": [{column: p, "since": s} for p, s in rows]}
    return Response(msgspec.json.encode(data), media_type="application/json")


@router.get("/segments/{name}/history", summary="Entries and exits over time, per day")
async def history(request: Request, name: str) -> dict[str, Any]:
    authorize(request)

    def read(engine: Engine) -> dict[str, Any]:
        if name not in engine.segment_definitions:
            raise NotFound(f"no segment {name!r}")
        engine.settle()
        days: dict[int, list[int]] = {}
        for _, entered, ts in engine.read_models.segment_changes(name):
            day = days.setdefault(int(ts // 86400), [0, 0])
            day[0 if entered else 1] += 1
        size, out = 0, []
        for number, (ins, outs) in sorted(days.items()):
            size += ins - outs
            out.append({"day": number * 86400, "entered": ins, "left": outs, "size": size})
        return {"segment": name, "days": out}

    return await on_engine(request, read)  # type: ignore[no-any-return]


@router.get("/customers/groups", summary="Customers clustered on value, visits and channels")
async def customer_groups(request: Request, k: int = Query(6, ge=2, le=20)
                          ) -> list[dict[str, Any]]:
    authorize(request)

    def read(engine: Engine) -> list[dict[str, Any]]:
        from ..analytics import cluster_customers
        from ..analytics.customers import to_json as groups_json

        try:
            return groups_json(cluster_customers(analysable(engine), engine.clock.now(), k))
        except ValueError as exc:
            raise ValidationError(str(exc), "$.k") from None

    return await on_engine(request, read)  # type: ignore[no-any-return]


def cluster_router(definitions: Definitions) -> APIRouter:
    """A cluster gateway's segment changes (202: every partition's owner applies the change
    in order with its events, and evaluates its records against a new segment)."""
    routes = APIRouter(prefix="/v1", tags=["segments"])

    @routes.put("/segments/{name}", status_code=202, openapi_extra=RULE_BODY,
                summary='Define a segment in every partition: {"text": "..."} or {"rule": ...}')
    async def put(request: Request, name: str, actor: str = Depends(require_change)
                  ) -> dict[str, Any]:
        rule, body = await _segment_rule(request)
        return await definitions.put_segment(
            Segment(name, rule, str(body.get("description", ""))), actor)

    @routes.delete("/segments/{name}", status_code=202,
                   summary="Delete a segment in every partition; its members leave it")
    async def delete(name: str, actor: str = Depends(require_change)) -> dict[str, Any]:
        return await definitions.remove_segment(name, actor)

    return routes
