"""Keys: Segment-style write keys (HTTP basic, the key as user name) for ingestion, admin keys
(basic or bearer) for reads. No key configured means nobody gets in."""

from __future__ import annotations

import base64
import hmac

from fastapi import Request

from .._errors import AuthError
from ._deps import services

WRITE_HELP = ("set a write key: INTENTLY_WRITE_KEYS=<key> (or write_keys in intently.toml, "
              "or --write-key), then send it as the HTTP basic auth user name")
ADMIN_HELP = "set an admin key: INTENTLY_ADMIN_KEYS=<key> (or --admin-key)"


def presented_key(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise AuthError("malformed basic authorization header") from None
        user, _, _password = decoded.partition(":")
        return user or None
    return None


def check(key: str | None, allowed: tuple[str, ...], help_text: str) -> None:
    if not allowed:
        raise AuthError(f"no keys are configured, so this server refuses requests: {help_text}")
    if key is None:
        raise AuthError(f"missing key: {help_text}")
    if not any(hmac.compare_digest(key.encode(), k.encode()) for k in allowed):
        raise AuthError("unknown key")


def require_admin(request: Request) -> None:
    """Reads need an admin key (a write key is often public: it ships in web pages)."""
    check(presented_key(request.headers.get("authorization")),
          services(request).settings.admin_keys, ADMIN_HELP)
