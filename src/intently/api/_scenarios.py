"""Scenarios over HTTP: define (YAML or JSON), list, report, outbox; plus the public tracking
links that bring opens, clicks and unsubscribes back as events."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from .._errors import NotFound, ValidationError
from .._views import message_view
from ..engine import Engine, scenario_state
from ..scenarios import Scenario, parse_document, report
from ._audit import audited_change
from ._auth import authorize, require_change
from ._body import admin_body
from ._deps import Definitions, on_engine, services, submit_link_event
from ._schemas import SCENARIO_BODY

router = APIRouter(prefix="/v1", tags=["scenarios"])
public = APIRouter(tags=["tracking"])

_PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")



def _summary(s: Scenario) -> dict[str, Any]:
    return {"name": s.name, "description": s.description, "enabled": s.enabled,
            "trigger": s.trigger.kind, "priority": s.policies.priority, "holdout": s.holdout,
            "variants": s.variants, "definition": s.to_json()}


@router.get("/scenarios", summary="Scenarios and their definitions")
async def list_scenarios(request: Request) -> list[dict[str, Any]]:
    authorize(request)
    return await on_engine(request, lambda e: [  # type: ignore[no-any-return]
        _summary(s) for s in sorted(e.scenario_definitions.values(), key=lambda s: s.name)])


@router.put("/scenarios/{name}", summary="Define a scenario (JSON or YAML body)",
            openapi_extra=SCENARIO_BODY)
async def put_scenario(request: Request, name: str) -> dict[str, Any]:
    actor = authorize(request)
    scenario = await _scenario_of(request, name)

    def write(engine: Engine) -> dict[str, Any]:
        engine.put_scenario(scenario)
        return _summary(scenario)

    return await audited_change(request, actor, "scenario.put", name, scenario_state(name), write)


async def _scenario_of(request: Request, name: str) -> Scenario:
    """The scenario a PUT's body defines (JSON or YAML), named as its URL."""
    data = parse_document((await admin_body(request)).decode("utf-8", "replace"), "the body")
    if isinstance(data, dict):
        data.setdefault("name", name)
        if data["name"] != name:
            raise ValidationError(f"the body names {data['name']!r}, the URL {name!r}",
                                  "$.name")
    return Scenario.from_dict(data)


@router.delete("/scenarios/{name}", summary="Delete a scenario")
async def delete_scenario(request: Request, name: str) -> dict[str, Any]:
    actor = authorize(request)

    def write(engine: Engine) -> dict[str, Any]:
        engine.remove_scenario(name)
        return {"name": name, "deleted": True}

    return await audited_change(request, actor, "scenario.delete", name,
                                scenario_state(name), write)


@router.get("/scenarios/{name}/report", summary="Per arm results and uplift over the holdout")
async def scenario_report(request: Request, name: str) -> dict[str, Any]:
    authorize(request)

    def read(engine: Engine) -> dict[str, Any]:
        if name not in engine.scenario_definitions and not engine.read_models.journal_counts(
                name):
            raise NotFound(f"no scenario {name!r}")
        return report(engine.read_models, name)

    return await on_engine(request, read)  # type: ignore[no-any-return]


@router.get("/outbox", summary="Messages, newest first, with delivery status")
async def outbox(request: Request, limit: int = Query(50, ge=1, le=1000),
                 scenario: str | None = None, customer: str | None = None
                 ) -> list[dict[str, Any]]:
    authorize(request)
    store = services(request).worker.engine.read_models
    rows = await asyncio.to_thread(store.outbox, limit, scenario, customer)
    return [message_view(r, body=True) for r in rows]


# -- public links in messages (signed tokens; no key)
async def _track(request: Request, token: str, event: str, extra: dict[str, Any]) -> dict[
        str, Any]:
    data = services(request).tokens.read(token)
    mid = str(data.get("m", ""))
    scenario, profile_id, arm = mid.split("/", 1)[0], str(data.get("p", "")), data.get("a", "")
    ev = {"type": "track", "event": event, "userId": profile_id,
          "messageId": f"{event}:{mid}:{extra.get('url', '')}",
          "properties": {"message_id": mid, "scenario": scenario, "arm": arm,
                         "channel": data.get("c"), **extra}}
    await submit_link_event(request, ev)
    return data


@public.get("/t/o/{token}.gif", summary="Open pixel", include_in_schema=False)
async def opened(request: Request, token: str) -> Response:
    with contextlib.suppress(ValidationError):  # a forged pixel records nothing
        await _track(request, token, "Email Opened", {})
    return Response(_PIXEL, media_type="image/gif", headers={"cache-control": "no-store"})


@public.get("/t/c/{token}", summary="Click redirect", include_in_schema=False)
async def clicked(request: Request, token: str) -> Response:
    data = services(request).tokens.read(token)  # 400 when forged
    url = str(data.get("u", ""))
    if not url.startswith(("http://", "https://")):
        raise ValidationError("this link has no target", "$.token")
    await _track(request, token, "Email Link Clicked", {"url": url})
    return RedirectResponse(url, status_code=302)


def cluster_router(definitions: Definitions) -> APIRouter:
    """A cluster gateway's scenario changes (202: every partition's owner applies the change
    in order with its events)."""
    routes = APIRouter(prefix="/v1", tags=["scenarios"])

    @routes.put("/scenarios/{name}", status_code=202, openapi_extra=SCENARIO_BODY,
                summary="Define a scenario in every partition (JSON or YAML body)")
    async def put(request: Request, name: str, actor: str = Depends(require_change)
                  ) -> dict[str, Any]:
        return await definitions.put_scenario(await _scenario_of(request, name), actor)

    @routes.delete("/scenarios/{name}", status_code=202,
                   summary="Delete a scenario in every partition")
    async def delete(name: str, actor: str = Depends(require_change)) -> dict[str, Any]:
        return await definitions.remove_scenario(name, actor)

    return routes
