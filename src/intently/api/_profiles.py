"""Reading golden records: GET /v1/profiles/{id} (any identifier) and a paged list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from .._views import account_view, profile_view, set_aside_view
from ..engine import Engine
from ._auth import authorize
from ._deps import on_engine

router = APIRouter(prefix="/v1", tags=["profiles"])


@router.get("/profiles/{identifier}", summary="A customer's golden record and timeline")
async def get_profile(request: Request, identifier: str,
                      timeline: int = Query(50, ge=0, le=1000)) -> dict[str, Any]:
    authorize(request)

    def read(engine: Engine) -> dict[str, Any]:
        return profile_view(engine, engine.profile(identifier), timeline)

    return await on_engine(request, read)  # type: ignore[no-any-return]


@router.get("/accounts", summary="Account ids (companies, households: `group` calls), paged")
async def list_accounts(request: Request, limit: int = Query(100, ge=1, le=1000),
                        offset: int = Query(0, ge=0, le=10**12)) -> list[str]:
    authorize(request)
    return await on_engine(  # type: ignore[no-any-return]
        request, lambda e: e.read_models.account_ids(limit, offset))


@router.get("/accounts/{account_id}", summary="An account's own traits and its members")
async def get_account(request: Request, account_id: str) -> dict[str, Any]:
    authorize(request)
    return await on_engine(request, lambda e: account_view(e, account_id))  # type: ignore[no-any-return]


@router.get("/stats", summary="Engine counters")
async def stats(request: Request) -> dict[str, Any]:
    authorize(request)

    def read(engine: Engine) -> dict[str, Any]:
        return {"events_processed": engine.events_processed,
                "events_stored": engine.events_stored(),
                "events_set_aside": engine.events_set_aside,
                "profiles_cached": engine.profiles_cached,
                "last_seq": engine.last_seq}

    return await on_engine(request, read)  # type: ignore[no-any-return]


@router.get("/events/set-aside", summary="Accepted events the pipeline failed on, with errors")
async def set_aside(request: Request,
                    limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    authorize(request)
    return await on_engine(request, lambda e: set_aside_view(e, limit))  # type: ignore[no-any-return]
