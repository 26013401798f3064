"""What admins manage, from the dashboard or with a key: the dashboard's users (list, add or
change role and password, remove; every change journaled, and it ends the user's open
sessions) and the audit journal (read, or downloaded as CSV)."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import msgspec
from fastapi import APIRouter, Query, Request, Response

from ..engine import Engine
from ..events import as_validation_error, isoformat
from ._auth import authorize
from ._body import admin_body
from ._deps import on_engine, services

router = APIRouter(prefix="/v1", tags=["admin"])


class UserChange(msgspec.Struct, forbid_unknown_fields=True):
    role: str | None = None
    password: str | None = None


@router.get("/users", summary="Dashboard users: name, role, since (never a password)")
async def list_users(request: Request) -> list[dict[str, Any]]:
    authorize(request)
    return [u.view() for u in services(request).users.list()]


@router.put("/users/{name}", summary='Add a user ({"role": ..., "password": ...}) or change '
            "one (either field); ends their sessions")
async def put_user(request: Request, name: str) -> dict[str, Any]:
    actor = authorize(request)
    try:
        change = msgspec.json.decode(await admin_body(request), type=UserChange)
    except msgspec.DecodeError as exc:
        raise as_validation_error(exc) from None
    users = services(request).users

    def write(engine: Engine) -> dict[str, Any]:
        return users.put(name, actor=actor, role=change.role, password=change.password).view()

    # scrypt takes tens of milliseconds: on the engine's thread, not the event loop's
    return await on_engine(request, write)  # type: ignore[no-any-return]


@router.delete("/users/{name}", summary="Remove a user; ends their sessions")
async def delete_user(request: Request, name: str) -> dict[str, Any]:
    actor = authorize(request)
    users = services(request).users
    await on_engine(request, lambda engine: users.remove(name, actor=actor))
    return {"name": name, "removed": True}


@router.get("/audit", summary="The audit journal, newest first: privacy requests and every "
            "change (who, what, when, before and after); ?format=csv to download")
async def audit(request: Request, limit: int = Query(200, ge=1, le=100_000),
                format: str = Query("json", pattern="^(json|csv)$")) -> Any:
    authorize(request)
    rows = await on_engine(request, lambda e: [r._asdict() for r in e.privacy.log(limit)])
    if format == "json":
        return rows
    out = io.StringIO()
    writer = csv.DictWriter(out, ["at", "verb", "subject", "actor", "detail", "id"],
                            extrasaction="ignore")
    writer.writeheader()
    writer.writerows({**r, "at": isoformat(r["at"])} for r in rows)
    return Response(out.getvalue(), media_type="text/csv", headers={
        "content-disposition": 'attachment; filename="intently-audit.csv"'})


async def verify(request: Request, name: str, password: str) -> Any:
    """The user whose password this is, or None (scrypt, off the event loop)."""
    return await asyncio.to_thread(services(request).users.verify, name, password)
