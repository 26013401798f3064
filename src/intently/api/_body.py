"""Request bodies, read with a size limit on every route (and after decompression)."""

from __future__ import annotations

import zlib

from fastapi import Request

from .._errors import PayloadTooLarge, ValidationError
from ._deps import intake

_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "identity": 0}


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, at most `limit` bytes, after undoing a gzip or deflate
    `Content-Encoding` (Segment's and RudderStack's libraries compress by default); the limit
    holds for the decompressed size too, so a small bomb cannot grow into a large body."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes, over the {limit}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body is over the {limit}-byte limit")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in _ENCODINGS:
        raise ValidationError(f"unsupported Content-Encoding {encoding!r}: send gzip, deflate "
                              "or none", "$")
    if not _ENCODINGS[encoding]:
        return bytes(body)
    inflate = zlib.decompressobj(_ENCODINGS[encoding])
    try:
        out = inflate.decompress(bytes(body), limit + 1)
    except zlib.error as exc:
        raise ValidationError(f"the body is not valid {encoding}: {exc}", "$") from None
    if len(out) > limit or inflate.unconsumed_tail:
        raise PayloadTooLarge(f"request body is over the {limit}-byte limit once decompressed")
    return out


async def admin_body(request: Request) -> bytes:
    """The body of a definition, decision or analytics request (`max_request_bytes`)."""
    return await read_body(request, intake(request).settings.max_request_bytes)
