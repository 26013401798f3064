"""POST /v1/decide: offers for a receipt or basket, in milliseconds; offer rules by PUT."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from fastapi import APIRouter, Request, Response

from .._errors import Forbidden, ValidationError
from ..config import Settings
from ..decisions import OfferRule
from ..engine import Engine, offers_state
from ..events import as_validation_error
from ._audit import audited_change
from ._auth import authorize, check, presented_key
from ._body import admin_body, read_body
from ._deps import intake, services
from ._fast import FastRoute, Headers, authorization
from ._schemas import OFFERS_BODY, body

router = APIRouter(prefix="/v1", tags=["decisions"])


class Line(msgspec.Struct, forbid_unknown_fields=False):
    name: str | None = None
    product_id: str | None = None
    sku: str | None = None
    category: str | None = None
    price: float | None = None
    quantity: float | None = None


class Receipt(msgspec.Struct, forbid_unknown_fields=False):
    items: list[Line | str]
    userId: str | None = None
    anonymousId: str | None = None
    customer: str | None = None
    timestamp: float | None = None


_decode = msgspec.json.Decoder(Receipt).decode
_encode = msgspec.json.Encoder().encode


Decide = Callable[[list[str], str | None, float | None], Awaitable[dict[str, Any]]]
"""(items, customer identifier, receipt time) -> the decision: how a cluster gateway decides."""


DECIDE_HELP = ("send a read key (INTENTLY_READ_KEYS=<key>) or an admin key; a write key "
               "decides for anonymous receipts only")


def _may_name(key: str | None, settings: Settings) -> bool:
    """A read or admin key decides for anyone; a write key (it ships in web pages) for a
    receipt that names no one, so it cannot learn who an email, a user id or a device
    belongs to."""
    return key is not None and any(hmac.compare_digest(key.encode(), k.encode())
                                   for k in settings.read_keys + settings.admin_keys)


def parse_receipt(key: str | None, body: bytes, settings: Settings
                  ) -> tuple[list[str], str | None, float | None]:
    """The receipt's items (names, ids, categories), who is buying, and when; the key (checked
    already) must be a read or admin key to name the customer."""
    try:
        receipt = _decode(body)
    except msgspec.DecodeError as exc:
        raise as_validation_error(exc) from None
    who = receipt.customer or receipt.userId or receipt.anonymousId
    if who and not _may_name(key, settings):
        raise Forbidden(f"a decision for a named customer needs a read key: {DECIDE_HELP}")
    if not receipt.items:
        raise ValidationError("a receipt needs at least one item", "$.items")
    items: list[str] = []
    for line in receipt.items:
        if isinstance(line, str):
            items.append(line)
        else:
            items.extend(v for v in (line.name, line.product_id, line.sku, line.category) if v)
    return items, who, receipt.timestamp


async def read_receipt(request: Request, settings: Settings
                       ) -> tuple[list[str], str | None, float | None]:
    """The key checked first (no body is read without one), then the receipt."""
    key = presented_key(request.headers.get("authorization"))
    check(key, settings.read_keys + settings.admin_keys + settings.write_keys, DECIDE_HELP)
    return parse_receipt(key, await read_body(request, settings.max_request_bytes), settings)


def answer(result: dict[str, Any]) -> Response:
    # encoded here: FastAPI's generic encoder would cost more than the decision itself
    return Response(_encode(result), media_type="application/json")


def decide_here(engine: Engine) -> Decide:
    """Decisions by this process's engine: the customer's record looked up without the
    writer's lock (a read), then the offer rules."""

    async def decide(items: list[str], who: str | None, at: float | None) -> dict[str, Any]:
        profile = engine.find(who) if who else None
        result = engine.decider.decide(items, profile, at or engine.clock.now(), customer=who)
        result["customer"] = profile.id if profile is not None else who
        return result

    return decide


def fast_route(settings: Settings, decide: Decide) -> FastRoute:
    """`POST /v1/decide` before the framework (`FastApp.route_fast`): the same checks and
    answer as the routes below, which take every request this one hands on."""
    allowed = settings.read_keys + settings.admin_keys + settings.write_keys

    def prepare(headers: Headers, body: bytes) -> tuple[list[str], str | None, float | None]:
        key = presented_key(authorization(headers))
        check(key, allowed, DECIDE_HELP)
        return parse_receipt(key, body, settings)

    async def respond(receipt: tuple[list[str], str | None, float | None]) -> bytes:
        return _encode(await decide(*receipt))

    return FastRoute(lambda: settings.max_request_bytes, prepare, respond)


@router.post("/decide", summary="Offers for a receipt: {items: [...], userId}",
             openapi_extra=body("Receipt"))
async def decide(request: Request) -> Response:
    svc = services(request)
    items, who, at = await read_receipt(request, svc.settings)
    return answer(await decide_here(svc.worker.engine)(items, who, at))


def decide_router(decide: Decide) -> APIRouter:
    """`POST /v1/decide` answered by `decide` (a cluster gateway's, from its cache)."""
    routes = APIRouter(prefix="/v1", tags=["decisions"])

    @routes.post("/decide", summary="Offers for a receipt: {items: [...], userId}",
                 openapi_extra=body("Receipt"))
    async def gateway_decide(request: Request) -> Response:
        items, who, at = await read_receipt(request, intake(request).settings)
        return answer(await decide(items, who, at))

    return routes


@router.get("/offers", summary="Offer rules (written and mined)")
async def list_offers(request: Request) -> list[dict[str, Any]]:
    authorize(request)
    return [r.to_json() for r in services(request).worker.engine.decider.rules]


@router.put("/offers", summary="Replace the written offer rules: a JSON list",
            openapi_extra=OFFERS_BODY)
async def put_offers(request: Request) -> dict[str, Any]:
    actor = authorize(request)
    try:
        rules = msgspec.json.decode(await admin_body(request))
    except msgspec.DecodeError as exc:
        raise ValidationError(f"malformed JSON: {exc}", "$") from None
    if not isinstance(rules, list):
        raise ValidationError("send a list of offer rules", "$")
    for i, r in enumerate(rules):
        OfferRule.from_dict(r, f"$[{i}]")
    await audited_change(request, actor, "offers.put", "offers", offers_state,
                  lambda engine: engine.set_offer_rules(rules))
    return {"rules": len(rules)}


