"""Batch analytics over HTTP: fit RFM and lifetime value on the store's customers, mine basket
rules from its purchases. The engine uses what they fit at once (profiles, rules, offers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from fastapi import APIRouter, Request

from .._errors import NotFound, ValidationError
from ..engine import (
    Engine,
    clv_state,
    clv_view,
    mine_stored_rules,
    offers_state,
    rfm_state,
    rfm_view,
    update_clv,
    update_rfm,
)
from ..events import as_validation_error
from ._audit import audited_change
from ._auth import authorize
from ._body import admin_body
from ._deps import on_engine, services
from ._schemas import body

router = APIRouter(prefix="/v1", tags=["analytics"])


class MineRequest(msgspec.Struct, forbid_unknown_fields=True):
    min_support: float = 0.01
    min_confidence: float = 0.5
    max_len: int = 3
    save: bool = False
    limit: int = 100


async def _run(request: Request, fn: Any, actor: str, verb: str,
               state: Callable[[Engine], Any] | None) -> Any:
    """Run a job on the engine thread; with `state`, audit it (`verb`, before and after)."""
    def job(engine: Engine) -> Any:
        try:
            return fn(engine)
        except ValueError as exc:  # not enough data yet: say so, as a 400
            raise ValidationError(str(exc), "$") from None

    if state is None:
        return await on_engine(request, job)
    return await audited_change(request, actor, verb, verb.split(".")[0], state, job)


def _rfm_state(engine: Engine) -> Any:
    return rfm_view(engine.rfm) if engine.rfm is not None else None


def _clv_state(engine: Engine) -> Any:
    return clv_view(engine.clv) if engine.clv is not None else None


def _in_use(model: Any, what: str, path: str) -> Any:
    """The engine's model, or a 404 that says how to fit one."""
    if model is None:
        raise NotFound(f"no {what} yet: POST /v1/{path}/update")
    return model


@router.get("/rfm", summary="The RFM cut points in use")
async def rfm(request: Request) -> dict[str, Any]:
    authorize(request)
    return rfm_view(_in_use(services(request).worker.engine.rfm, "RFM model", "rfm"))


@router.post("/rfm/update", summary="Fit RFM on every customer who bought; use it at once")
async def rfm_update(request: Request) -> dict[str, Any]:
    actor = authorize(request)
    return rfm_view(await _run(request, update_rfm, actor, "rfm.update", rfm_state))


@router.get("/clv", summary="The lifetime value model in use")
async def clv(request: Request) -> dict[str, Any]:
    authorize(request)
    return clv_view(_in_use(services(request).worker.engine.clv, "lifetime value model", "clv"))


@router.post("/clv/update", summary="Fit BG/NBD and Gamma-Gamma on the store's customers")
async def clv_update(request: Request) -> dict[str, Any]:
    actor = authorize(request)
    return clv_view(await _run(request, update_clv, actor, "clv.update", clv_state))


@router.post("/rules/mine", summary="Basket rules from the stored purchases",
             openapi_extra=body("MineRequest", required=False))
async def rules_mine(request: Request) -> dict[str, Any]:
    """Body (all optional): `{"min_support": 0.01, "min_confidence": 0.5, "max_len": 3,
    "save": false, "limit": 100}`. With `save`, real-time offers use the rules at once."""
    actor = authorize(request)
    body = await admin_body(request)
    try:
        spec = msgspec.json.decode(body or b"{}", type=MineRequest)
    except msgspec.DecodeError as exc:
        raise as_validation_error(exc) from None
    bounds = (("min_support", spec.min_support, 0.0, 1.0),
              ("min_confidence", spec.min_confidence, 0.0, 1.0),
              ("max_len", spec.max_len, 2, 6), ("limit", spec.limit, 1, 10000))
    for name, value, low, high in bounds:
        if not low <= value <= high:
            raise ValidationError(f"{name} must be between {low} and {high}", f"$.{name}")
    rules = await _run(request, lambda engine: mine_stored_rules(
        engine, min_support=spec.min_support, min_confidence=spec.min_confidence,
        max_len=spec.max_len, save=spec.save), actor, "rules.mine",
        offers_state if spec.save else None)
    return {"rules": len(rules), "saved": spec.save, "top": rules[: spec.limit]}
