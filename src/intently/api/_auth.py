"""Keys: Segment-style write keys (HTTP basic, the key as user name) for ingestion, admin keys
(basic or bearer) for reads. No key configured means nobody gets in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from fastapi import Request

from .._errors import AuthError, ValidationError
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


SESSION_COOKIE = "intently_session"
SESSION_S = 12 * 3600.0


def session_token(request: Request) -> str:
    """A signed dashboard session (after a login with an admin key), valid for 12 hours."""
    return services(request).tokens.token({"s": "dashboard", "exp": round(time.time() + SESSION_S)})


def has_session(request: Request) -> bool:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return False
    try:
        data = services(request).tokens.read(token)
    except ValidationError:
        return False
    return data.get("s") == "dashboard" and float(data.get("exp", 0)) > time.time()


PRIVACY_HELP = "send an admin key or a privacy key (INTENTLY_PRIVACY_KEYS=<key>) in the header"


def require_privacy(request: Request) -> str:
    """The privacy routes erase and export people: a key in the header only (admin or
    privacy), never the dashboard's cookie, which a cross-site form could carry. Returns the
    actor to journal: a short digest of the key, never the key."""
    settings = services(request).settings
    key = presented_key(request.headers.get("authorization"))
    check(key, settings.admin_keys + settings.privacy_keys, PRIVACY_HELP)
    kind = "admin" if key in settings.admin_keys else "privacy"
    return f"{kind}-key:{hashlib.sha256(str(key).encode()).hexdigest()[:10]}"


def require_admin(request: Request) -> None:
    """Reads need an admin key (a write key is often public: it ships in web pages), or the
    dashboard's session cookie, which a login with an admin key gives."""
    header = request.headers.get("authorization")
    if header is None and has_session(request):
        return
    check(presented_key(header), services(request).settings.admin_keys, ADMIN_HELP)
