"""CORS for the ingestion routes only: browser SDKs send events from the shop's own origin.

The write key is public by design (it ships in web pages), so any origin may send events;
the admin routes and the dashboard get no CORS headers, so no other origin can read them.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_INGEST = frozenset(f"/v1/{p}" for p in (
    "track", "identify", "page", "screen", "alias", "group", "batch", "import",
    "t", "i", "p", "s", "a", "g", "b"))
ALLOW_ANY_ORIGIN = [(b"access-control-allow-origin", b"*")]
_PREFLIGHT = [*ALLOW_ANY_ORIGIN,
              (b"access-control-allow-methods", b"POST, OPTIONS"),
              (b"access-control-max-age", b"86400"),
              (b"content-length", b"0")]
_DEFAULT_HEADERS = b"content-type, authorization, content-encoding"


class IngestCORS:
    """Answers preflights on the ingestion routes and lets any origin read their answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path not in _INGEST and path.rstrip("/") not in _INGEST:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            requested = dict(scope["headers"]).get(b"access-control-request-headers")
            allowed = requested[:512] if requested else _DEFAULT_HEADERS
            await send({"type": "http.response.start", "status": 204, "headers": [
                *_PREFLIGHT, (b"access-control-allow-headers", allowed)]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *ALLOW_ANY_ORIGIN]
            await send(message)

        await self.app(scope, receive, with_cors)
