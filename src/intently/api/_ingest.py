"""Segment-compatible ingestion: /v1/track, /identify, /page, /screen, /alias, /group, /batch.

Bodies are decoded with msgspec straight from bytes (fast, and errors name the JSON path). A
request is all or nothing: one bad event rejects it with 400 and nothing of it is stored, so a
client can fix and resend without duplicates. 200 means every event is durable.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Request, Response

from .._errors import ValidationError
from ..config import Settings
from ..engine import as_event, decode_event
from ..events import Event, as_validation_error, parse_timestamp
from ._auth import WRITE_HELP, check, presented_key
from ._body import read_body
from ._deps import Intake, intake
from ._fast import FastRoute, Headers, authorization
from ._schemas import body

router = APIRouter(prefix="/v1", tags=["ingest"])

class _RawBatch(msgspec.Struct, rename="camel", kw_only=True):
    """A batch with each event kept as the bytes the client sent (stored as they are)."""

    batch: list[msgspec.Raw]
    context: dict[str, Any] | None = None
    sent_at: str | float | None = None
    write_key: str | None = None


class _EventBatch(msgspec.Struct):
    """The same batch, decoded to events in one call (the common case: all of them valid)."""

    batch: list[Event]


_batch_decoder = msgspec.json.Decoder(_RawBatch)
_events_decoder = msgspec.json.Decoder(_EventBatch)
_encode = msgspec.json.Encoder().encode


async def accepted(intake: Intake, events: list[Event], root: str,
                   raws: list[bytes | None] | None = None) -> bytes:
    """Submit the events; the answer once they are durable. A ValidationError of the engine
    (its paths are `$[i]`) is raised with the path where the event sits in the request."""
    try:
        result = await intake.submit(events, raws)
    except ValidationError as exc:
        path = exc.path.replace("$", root, 1) if root != "$" else "$" + exc.path[4:]
        raise type(exc)(exc.message, path) from None
    # events of suppressed identities are answered as accepted: the write key ships in web
    # pages, and the answer must not tell its holder who asked to be forgotten
    return _encode({"success": True, "accepted": result.accepted + result.suppressed,
                    "duplicates": result.duplicates})


async def _ingest(request: Request, events: list[Event], root: str,
                  raws: list[bytes | None] | None = None) -> Response:
    return Response(await accepted(intake(request), events, root, raws),
                    media_type="application/json")


def _header_key(request: Request, settings: Settings) -> str | None:
    """The key in the Authorization header, checked now (None: it may be in the body, as
    Segment's `writeKey`)."""
    return _checked(presented_key(request.headers.get("authorization")), settings)


def _checked(key: str | None, settings: Settings) -> str | None:
    if key is not None:
        check(key, settings.write_keys, WRITE_HELP)
    return key


def _no_key_read(key: str | None, settings: Settings) -> None:
    """A body that does not decode holds no key: without one in the header, that is the
    answer (a caller without a key learns nothing of validation)."""
    if key is None:
        check(None, settings.write_keys, WRITE_HELP)


def single_event(kind: str, key: str | None, body: bytes, settings: Settings) -> Event:
    """The event of a `kind` call (`track`, `identify`, ...): the body decoded and checked;
    `key`, from the header and checked already, or None: then the body's `writeKey`."""
    try:
        raw = msgspec.json.decode(body)
    except msgspec.MsgspecError as exc:
        _no_key_read(key, settings)
        raise as_validation_error(exc) from None
    except RecursionError:
        _no_key_read(key, settings)
        raise ValidationError("nested too deeply", "$") from None
    if not isinstance(raw, dict):
        _no_key_read(key, settings)
        raise ValidationError("expected a JSON object", "$")
    written = raw.pop("writeKey", None)
    if key is None:
        check(written if isinstance(written, str) else None, settings.write_keys, WRITE_HELP)
    raw["type"] = kind
    return as_event(raw, "$")


def _single(kind: str):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        settings = intake(request).settings
        key = _header_key(request, settings)
        body = await read_body(request, settings.max_event_bytes)
        return await _ingest(request, [single_event(kind, key, body, settings)], "$")

    endpoint.__name__ = f"ingest_{kind}"
    return endpoint


# Segment's short paths (analytics.js and the mobile libraries use some of them)
_SHORT = {"track": "t", "identify": "i", "page": "p", "screen": "s", "alias": "a", "group": "g"}

for _kind, _short in _SHORT.items():
    router.add_api_route(f"/{_kind}", _single(_kind), methods=["POST"],
                         summary=f"Segment {_kind} call", openapi_extra=body("Event"))
    router.add_api_route(f"/{_short}", _single(_kind), methods=["POST"],
                         summary=f"Segment {_kind} call (short path)", include_in_schema=False)


def batch_events(key: str | None, body: bytes, settings: Settings
                 ) -> tuple[list[Event], list[bytes | None]]:
    """The events of a batch call and the JSON of each as received (None where the stored
    event must be written anew: a null dropped, a batch `context` merged): the body decoded
    and checked; `key`, from the header and checked already, or None: then the body's
    `writeKey`."""
    try:
        batch = _batch_decoder.decode(body)
    except msgspec.MsgspecError as exc:
        _no_key_read(key, settings)
        raise as_validation_error(exc) from None
    if key is None:
        check(batch.write_key, settings.write_keys, WRITE_HELP)
    if not batch.batch:
        raise ValidationError("the batch is empty", "$.batch")
    raws: list[bytes | None]
    try:  # all valid: one call; else one at a time, to name the bad one or drop nulls
        events = _events_decoder.decode(body).batch
        raws = [bytes(item) for item in batch.batch]
    except (msgspec.MsgspecError, RecursionError):
        events, raws = [], []
        for i, item in enumerate(batch.batch):
            raw = bytes(item)
            event, exact = decode_event(raw, f"$.batch[{i}]")
            events.append(event)
            raws.append(raw if exact else None)
    sent_at = None
    if batch.sent_at is not None and batch.sent_at != "":
        try:
            sent_at = parse_timestamp(batch.sent_at)
        except ValueError as exc:
            raise ValidationError(str(exc), "$.sentAt") from None
    if sent_at is not None:  # used once, on acceptance: the log keeps the corrected time
        for ev in events:
            if ev.sent_at is None:
                ev.sent_at = sent_at
    if batch.context:  # the stored JSON must then carry the merged context
        raws = [None] * len(events)
        for ev in events:
            ev.context = {**batch.context, **ev.context}
    return events, raws


async def ingest_batch(request: Request) -> Response:
    """Segment batch call: {"batch": [events...]}"""
    settings = intake(request).settings
    key = _header_key(request, settings)
    body = await read_body(request, settings.max_batch_bytes)
    events, raws = batch_events(key, body, settings)
    return await _ingest(request, events, "$.batch", raws)


router.add_api_route("/batch", ingest_batch, methods=["POST"],
                     summary="Segment batch call: {\"batch\": [events...]}",
                     openapi_extra=body("IngestBatch"))
router.add_api_route("/b", ingest_batch, methods=["POST"], include_in_schema=False)
router.add_api_route("/import", ingest_batch, methods=["POST"], include_in_schema=False)


_BATCH_PATHS = ("/v1/batch", "/v1/b", "/v1/import")


def fast_routes(intake: Intake) -> dict[str, FastRoute]:
    """The ingest calls before the framework (`FastApp.route_fast`), by path: the one-event
    calls (`/v1/track`, `/v1/t`, ...: what a browser sends, one request an event) and the
    batch calls (what the server-side libraries send): the same checks and answers as the
    routes above, which take every request these hand on."""
    settings = intake.settings

    def route(kind: str) -> FastRoute:
        def prepare(headers: Headers, body: bytes) -> Event:
            key = _checked(presented_key(authorization(headers)), settings)
            return single_event(kind, key, body, settings)

        async def answer(event: Event) -> bytes:
            return await accepted(intake, [event], "$")

        return FastRoute(lambda: settings.max_event_bytes, prepare, answer)

    def prepare_batch(headers: Headers, body: bytes
                      ) -> tuple[list[Event], list[bytes | None]]:
        key = _checked(presented_key(authorization(headers)), settings)
        return batch_events(key, body, settings)

    async def answer_batch(prepared: tuple[list[Event], list[bytes | None]]) -> bytes:
        events, raws = prepared
        return await accepted(intake, events, "$.batch", raws)

    routes: dict[str, FastRoute] = {}
    for kind, short in _SHORT.items():
        routes[f"/v1/{kind}"] = routes[f"/v1/{short}"] = route(kind)
    batch = FastRoute(lambda: settings.max_batch_bytes, prepare_batch, answer_batch)
    for path in _BATCH_PATHS:
        routes[path] = batch
    return routes
