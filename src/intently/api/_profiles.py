"""Reading golden records: GET /v1/profiles/{id} (any identifier) and a paged list."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request

from .._views import profile_view
from ..engine import Engine
from ._auth import require_admin
from ._deps import services

router = APIRouter(prefix="/v1", tags=["profiles"])


@router.get("/profiles/{identifier}", summary="A customer's golden record and timeline")
async def get_profile(request: Request, identifier: str,
                      timeline: int = Query(50, ge=0, le=1000)) -> dict[str, Any]:
    require_admin(request)

    def read(engine: Engine) -> dict[str, Any]:
        return profile_view(engine, engine.profile(identifier), timeline)

    return await asyncio.wrap_future(services(request).worker.call(read))


@router.get("/stats", summary="Engine counters")
async def stats(request: Request) -> dict[str, Any]:
    require_admin(request)

    def read(engine: Engine) -> dict[str, Any]:
        return {"events_processed": engine.events_processed,
                "events_stored": engine.store.count_events(),
                "profiles_cached": len(engine.state.profiles),
                "last_seq": engine.last_seq}

    return await asyncio.wrap_future(services(request).worker.call(read))
