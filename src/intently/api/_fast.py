"""The hot routes, answered before the framework.

A till asks `POST /v1/decide` for an offer thousands of times a second, a browser sends each
event in a request of its own (`/v1/track`) and a server-side library a hundred in one
(`/v1/batch`); FastAPI's middleware, routing, request object and endpoint machinery cost more
than the look-up and the rules, or than the event's own pipeline. `FastApp` answers the
routes given to `route_fast` before all that: it reads the body, asks the route to `prepare` it
(the key, the body's decoding and checks), then to `answer`, and adds the headers the app's
middleware would add.

Whatever the fast path does not take goes on through the framework to the route it has for the
same path, with the body as received, so every refusal is the one error tree's answer, as
before: a body that `prepare` refuses (a bad key, malformed JSON, a missing field), a
compressed body, one over the route's limit (declared, or streamed past it). `prepare` must
have no effects (the framework's route runs after it); once `answer` has begun, the request is
answered here: an `IntentlyError` with its status and message, a defect as the app's defect
handler answers it (logged, a 500 that names only its type).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from .._errors import AuthError, IntentlyError

_log = logging.getLogger("intently.api")

Headers = dict[bytes, bytes]
"""A request's headers by lower-case name (the first of repeated ones, as Starlette reads)."""


@dataclass(frozen=True)
class FastRoute:
    limit: Callable[[], int]
    """The largest body the route reads (a larger one goes to the framework, which refuses)."""
    prepare: Callable[[Headers, bytes], Any]
    """Checks and decodes a request; raises to hand it to the framework. No effects."""
    answer: Callable[[Any], Awaitable[bytes]]
    """The JSON answer to what `prepare` returned."""


def authorization(headers: Headers) -> str | None:
    """The Authorization header, as Starlette reads it (latin-1)."""
    raw = headers.get(b"authorization")
    return raw.decode("latin-1") if raw is not None else None


def error_answer(exc: IntentlyError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """An `IntentlyError` as an HTTP answer: status, headers, body (ASCII JSON with escapes: a
    message may quote the client's input, lone surrogates included)."""
    headers = [(b"content-type", b"application/json")]
    if isinstance(exc, AuthError):
        headers.append((b"www-authenticate", b'Basic realm="intently"'))
    return exc.status, headers, json.dumps(exc.to_json()).encode()


_JSON = [(b"content-type", b"application/json")]


def defect_answer(exc: Exception, method: str, path: str) -> bytes:
    """A defect (anything but an `IntentlyError`): logged with its traceback, answered as a
    500 that names only its type."""
    _log.error("request failed", exc_info=exc, extra={"method": method, "path": path})
    return json.dumps({"success": False, "code": "internal", "error": "internal",
                       "message": f"internal error ({type(exc).__name__}); it is logged"}
                      ).encode()


class FastApp(FastAPI):
    """FastAPI with the routes given to `route_fast` answered before its middleware stack;
    every other request, and every one the fast path hands on, goes through it as usual."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fast: dict[tuple[str, str], tuple[FastRoute, list[tuple[bytes, bytes]]]] = {}

    def route_fast(self, method: str, path: str, route: FastRoute,
                   headers: list[tuple[bytes, bytes]]) -> None:
        """Answer `method path` (exactly as the client sends them) by `route`, with `headers`
        on its answers (those the app's middleware would add on that path)."""
        self.fast[(method, path)] = (route, headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (self.fast.get((scope["method"], scope["path"]))
                 if scope["type"] == "http" and self.fast else None)
        if found is None:
            await super().__call__(scope, receive, send)
        else:
            await self._fast(*found, scope, receive, send)

    async def _fast(self, route: FastRoute, extra: list[tuple[bytes, bytes]], scope: Scope,
                    receive: Receive, send: Send) -> None:
        headers: Headers = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)
        limit = route.limit()
        declared = headers.get(b"content-length", b"")
        if (headers.get(b"content-encoding", b"identity").strip().lower() != b"identity"
                or (declared.isdigit() and (len(declared) > 18 or int(declared) > limit))):
            await super().__call__(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = bool(message.get("more_body"))
            if size > limit:
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if size > limit:  # streamed past the limit: the framework's route refuses it
            await super().__call__(scope, _replay(body, more, receive), send)
            return
        try:
            prepared = route.prepare(headers, body)
        except Exception:
            await super().__call__(scope, _replay(body, more, receive), send)
            return
        try:
            status, answer_headers, payload = 200, _JSON, await route.answer(prepared)
        except IntentlyError as exc:
            status, answer_headers, payload = error_answer(exc)
        except Exception as exc:
            status, answer_headers = 500, _JSON
            payload = defect_answer(exc, scope["method"], scope["path"])
        await send({"type": "http.response.start", "status": status, "headers": [
            *answer_headers, (b"content-length", str(len(payload)).encode()), *extra]})
        await send({"type": "http.response.body", "body": payload})


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """`receive` with the body read so far given again first."""
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return again
