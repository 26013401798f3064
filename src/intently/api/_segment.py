"""Segment-compatible ingestion: /v1/track, /identify, /page, /screen, /alias, /group, /batch.

Bodies are decoded with msgspec straight from bytes (fast, and errors name the JSON path). A
request is all or nothing: one bad event rejects it with 400 and nothing of it is stored, so a
client can fix and resend without duplicates. 200 means every event is durable.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from fastapi import APIRouter, Request, Response

from .._errors import PayloadTooLarge, ValidationError
from ..engine import as_event
from ..events import Event, as_validation_error
from ._auth import WRITE_HELP, check, presented_key
from ._deps import services

router = APIRouter(prefix="/v1", tags=["ingest"])

class _RawBatch(msgspec.Struct, rename="camel", kw_only=True):
    """A batch with each event kept as the bytes the client sent (stored as they are)."""

    batch: list[msgspec.Raw]
    context: dict[str, Any] = {}
    write_key: str | None = None


_batch_decoder = msgspec.json.Decoder(_RawBatch)
_encode = msgspec.json.Encoder().encode


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes, over the {limit}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body is over the {limit}-byte limit")
    return bytes(body)


async def _ingest(request: Request, events: list[Event], root: str,
                  raws: list[bytes | None] | None = None) -> Response:
    svc = services(request)
    try:
        result = await asyncio.wrap_future(svc.worker.submit(events, raws))
    except ValidationError as exc:  # the engine's paths are `$[i]`: put them where they sit
        path = exc.path.replace("$", root, 1) if root != "$" else "$" + exc.path[4:]
        raise type(exc)(exc.message, path) from None
    body = {"success": True, "accepted": result.accepted, "duplicates": result.duplicates}
    return Response(_encode(body), media_type="application/json")


def _single(kind: str):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        svc = services(request)
        settings = svc.settings
        check(presented_key(request.headers.get("authorization")), settings.write_keys,
              WRITE_HELP)
        body = await _body(request, settings.max_event_bytes)
        try:
            raw = msgspec.json.decode(body)
            if not isinstance(raw, dict):
                raise ValidationError("expected a JSON object", "$")
            raw["type"] = kind
            event = msgspec.convert(raw, Event)
        except msgspec.MsgspecError as exc:
            raise as_validation_error(exc) from None
        return await _ingest(request, [event], "$")

    endpoint.__name__ = f"ingest_{kind}"
    return endpoint


for _kind in ("track", "identify", "page", "screen", "alias", "group"):
    router.add_api_route(f"/{_kind}", _single(_kind), methods=["POST"],
                         summary=f"Segment {_kind} call")


@router.post("/batch", summary="Segment batch call: {\"batch\": [events...]}")
async def ingest_batch(request: Request) -> Response:
    svc = services(request)
    settings = svc.settings
    key = presented_key(request.headers.get("authorization"))
    body = await _body(request, settings.max_batch_bytes)
    try:
        batch = _batch_decoder.decode(body)
    except msgspec.MsgspecError as exc:
        raise as_validation_error(exc) from None
    check(key or batch.write_key, settings.write_keys, WRITE_HELP)
    if not batch.batch:
        raise ValidationError("the batch is empty", "$.batch")
    raws: list[bytes | None] = [bytes(raw) for raw in batch.batch]
    events = [as_event(raw, f"$.batch[{i}]") for i, raw in enumerate(raws)]  # type: ignore[arg-type]
    if batch.context:  # the stored JSON must then carry the merged context
        raws = [None] * len(events)
        for ev in events:
            ev.context = {**batch.context, **ev.context}
    return await _ingest(request, events, "$.batch", raws)
