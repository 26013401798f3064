"""Keys: Segment-style write keys (HTTP basic, the key as user name) for ingestion, admin keys
(basic or bearer) for reads. No key configured means nobody gets in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from urllib.parse import urlsplit

from fastapi import Request

from .._errors import AuthError, Forbidden, ValidationError
from ._deps import intake, services

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
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def key_digest(key: str) -> str:
    """A short digest of a key: what a session or a journal row names instead of the key."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def session_token(request: Request, key: str) -> str:
    """A signed dashboard session (after a login with admin key `key`), valid for 12 hours,
    until its logout, or until that key is no longer an admin key."""
    return services(request).tokens.token({
        "s": "dashboard", "exp": round(time.time() + SESSION_S),
        "sid": secrets.token_hex(12), "k": key_digest(key)})


def session(request: Request) -> dict[str, object] | None:
    """The session the cookie carries, if it is still good."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    svc = services(request)
    try:
        data = svc.tokens.read(token)
    except ValidationError:
        return None
    if data.get("s") != "dashboard" or float(data.get("exp", 0)) <= time.time():
        return None
    if data.get("k") not in {key_digest(k) for k in svc.settings.admin_keys}:
        return None  # the key it was opened with is gone
    if svc.sessions.revoked(str(data.get("sid", ""))):
        return None
    return data


def has_session(request: Request) -> bool:
    return session(request) is not None


def _same_origin(request: Request) -> bool:
    """Whether a browser request comes from the dashboard's own pages (a cross-site form
    carries another Origin; the session cookie is SameSite=Strict as well)."""
    origin = request.headers.get("origin")
    if origin is not None:
        return urlsplit(origin).netloc == request.headers.get("host")
    return request.headers.get("sec-fetch-site") == "same-origin"


PRIVACY_HELP = "send an admin key or a privacy key (INTENTLY_PRIVACY_KEYS=<key>) in the header"


def require_privacy(request: Request) -> str:
    """The privacy routes erase and export people: a key in the header only (admin or
    privacy), never the dashboard's cookie, which a cross-site form could carry. Returns the
    actor to journal: a short digest of the key, never the key."""
    settings = intake(request).settings  # a cluster gateway has no engine services
    key = presented_key(request.headers.get("authorization"))
    check(key, settings.admin_keys + settings.privacy_keys, PRIVACY_HELP)
    kind = "admin" if key in settings.admin_keys else "privacy"
    return f"{kind}-key:{key_digest(str(key))[:10]}"


def require_admin(request: Request) -> None:
    """Reads need an admin key (a write key is often public: it ships in web pages), or the
    dashboard's session cookie, which a login with an admin key gives."""
    header = request.headers.get("authorization")
    if header is None and has_session(request):
        if request.method not in _SAFE and not _same_origin(request):
            raise Forbidden("a change from the dashboard must come from its own pages "
                            "(the Origin header names another site)")
        return
    check(presented_key(header), services(request).settings.admin_keys, ADMIN_HELP)
