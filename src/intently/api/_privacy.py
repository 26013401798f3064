"""The privacy routes: erase a person, export what is held on them, suppress or lift their
identifiers, read the privacy journal. Identifiers travel in the body, never in the URL (URLs
end up in access logs)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from .._views import export_view
from ..engine import Engine
from ._auth import require_privacy
from ._deps import on_engine, services

router = APIRouter(prefix="/v1/privacy", tags=["privacy"])
# the key is checked before the body is read: a caller without one learns nothing of the rest
Actor = Depends(require_privacy)


class Subject(BaseModel):
    identifier: str = Field(min_length=1, max_length=512,
                            description="userId, anonymousId, email, phone or record id")


class EraseRequest(Subject):
    suppress: bool = Field(True, description="Keep the person's identifiers from being "
                           "ingested again (their next events are dropped)")


@router.post("/erase", summary="Delete everything held on a person, and suppress them")
async def erase(request: Request, body: EraseRequest, actor: str = Actor) -> dict[str, Any]:

    def run(engine: Engine) -> dict[str, Any]:
        report = engine.privacy.erase(body.identifier, actor=actor, suppress=body.suppress)
        return report.to_json()

    report: dict[str, Any] = await on_engine(request, run)
    services(request).hub.forget(report["record_ids"])
    return report


@router.post("/export", summary="Everything held on a person, as one JSON bundle")
async def export(request: Request, body: Subject, actor: str = Actor) -> dict[str, Any]:

    def run(engine: Engine) -> dict[str, Any]:
        bundle = export_view(engine, engine.profile(body.identifier))
        engine.privacy.exported(body.identifier, actor=actor)
        return bundle

    return await on_engine(request, run)  # type: ignore[no-any-return]


@router.post("/suppress", summary="Drop a person's next events, without deleting")
async def suppress(request: Request, body: Subject, actor: str = Actor) -> dict[str, int]:
    keys = await on_engine(request, lambda e: e.privacy.suppress(body.identifier, actor=actor))
    return {"suppressed": keys}


@router.post("/unsuppress", summary="Lift a suppression")
async def unsuppress(request: Request, body: Subject, actor: str = Actor) -> dict[str, int]:
    lifted = await on_engine(request,
                             lambda e: e.privacy.unsuppress(body.identifier, actor=actor))
    return {"lifted": lifted}


@router.get("/log", summary="The privacy journal, newest first (no personal data)")
async def log(request: Request, limit: int = Query(100, ge=1, le=10_000),
              actor: str = Actor) -> dict[str, Any]:

    def read(engine: Engine) -> dict[str, Any]:
        return {"requests": [r._asdict() for r in engine.privacy.log(limit)],
                "suppressed_events": engine.privacy.suppressed_events}

    return await on_engine(request, read)  # type: ignore[no-any-return]


Control = Callable[[str, dict[str, object]], Awaitable[int]]
"""(kind, request) -> partitions it went to: how a cluster gateway sends a privacy request."""


class Reads(Protocol):
    """What a cluster gateway reads for the privacy routes (`cluster.ClusterReads`)."""

    async def exported(self, identifier: str, actor: str) -> dict[str, Any]: ...

    async def journal(self, limit: int) -> dict[str, Any]: ...


def cluster_router(control: Control, reads: Reads | None = None) -> APIRouter:
    """The privacy routes of a cluster gateway: each request is published to every partition
    and applied there, in order with the events (202: the journal shows each partition's
    part, under the request id answered here). With `reads`, also the export and the
    journal, read from the partitions' tables."""
    routes = APIRouter(prefix="/v1/privacy", tags=["privacy"])
    if reads is not None:
        @routes.post("/export", summary="Everything every partition holds on a person")
        async def export(body: Subject, actor: str = Actor) -> dict[str, Any]:
            return await reads.exported(body.identifier, actor)

        @routes.get("/log", summary="The privacy journal, newest first (no personal data)")
        async def log(limit: int = Query(100, ge=1, le=10_000),
                      actor: str = Actor) -> dict[str, Any]:
            return await reads.journal(limit)

    async def send(kind: str, actor: str, identifier: str, **extra: object) -> dict[str, Any]:
        request = uuid.uuid4().hex
        parts = await control(kind, {"request": request, "identifier": identifier,
                                     "actor": actor, **extra})
        return {"request": request, "partitions": parts, "status": "accepted"}

    @routes.post("/erase", status_code=202,
                 summary="Erase a person in every partition, and suppress them")
    async def erase(body: EraseRequest, actor: str = Actor) -> dict[str, Any]:
        return await send("erase", actor, body.identifier, suppress=body.suppress)

    @routes.post("/suppress", status_code=202, summary="Suppress a person in every partition")
    async def suppress(body: Subject, actor: str = Actor) -> dict[str, Any]:
        return await send("suppress", actor, body.identifier)

    @routes.post("/unsuppress", status_code=202, summary="Lift a suppression everywhere")
    async def unsuppress(body: Subject, actor: str = Actor) -> dict[str, Any]:
        return await send("unsuppress", actor, body.identifier)

    return routes
