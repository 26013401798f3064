"""Keys and sessions: Segment-style write keys (HTTP basic, the key as user name) for
ingestion; viewer, marketer and admin keys (basic or bearer, or a dashboard login that keeps
the key's role) for everything else, as each route's line in `_scopes.py` says; privacy keys
for the privacy routes. No key configured means nobody gets in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from urllib.parse import urlsplit

from fastapi import Request

from .._errors import AuthError, Forbidden, ValidationError
from ..config import Settings
from ._deps import intake, services
from ._scopes import ROUTES

WRITE_HELP = ("set a write key: INTENTLY_WRITE_KEYS=<key> (or write_keys in intently.toml, "
              "or --write-key), then send it as the HTTP basic auth user name")
ADMIN_HELP = ("set an admin key: INTENTLY_ADMIN_KEYS=<key> (or --admin-key); marketers and "
              "viewers: INTENTLY_MARKETER_KEYS, INTENTLY_VIEWER_KEYS")


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


ROLES = ("admin", "marketer", "viewer")


def _keys(settings: Settings, role: str) -> tuple[str, ...]:
    keys: tuple[str, ...] = getattr(settings, f"{role}_keys")
    return keys


def role_of(key: str | None, settings: Settings) -> str | None:
    """The dashboard role a key gives (admin, marketer, viewer), or None."""
    if key is None:
        return None
    for role in ROLES:
        if any(hmac.compare_digest(key.encode(), k.encode()) for k in _keys(settings, role)):
            return role
    return None


def session_token(request: Request, key: str, role: str) -> str:
    """A signed dashboard session (after a login with `key`, which gives `role`), valid for
    12 hours, until its logout, or until that key no longer gives that role."""
    return services(request).tokens.token({
        "s": "dashboard", "exp": round(time.time() + SESSION_S),
        "sid": secrets.token_hex(12), "k": key_digest(key), "r": role})


def user_session_token(request: Request, name: str, generation: int, role: str) -> str:
    """A signed dashboard session of a user, valid for 12 hours, until its logout, or until
    the user changes (role, password) or is removed."""
    return services(request).tokens.token({
        "s": "dashboard", "exp": round(time.time() + SESSION_S),
        "sid": secrets.token_hex(12), "u": name, "g": generation, "r": role})


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
    role = str(data.get("r", ""))
    if "u" in data:
        user = svc.users.get(str(data["u"]))
        if user is None or user.generation != data.get("g") or user.role != role:
            return None  # the user was removed or changed since
    elif role not in ROLES or data.get("k") not in {
            key_digest(k) for k in _keys(svc.settings, role)}:
        return None  # the key it was opened with is gone, or no longer gives that role
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


CHANGE_HELP = "send a marketer or admin key in the Authorization header"


def require_change(request: Request) -> str:
    """A cluster gateway's definition routes: a marketer or admin key in the header, or a
    marketer's or admin's dashboard session where the gateway serves the dashboard. Returns
    the actor to journal."""
    if getattr(request.app.state, "services", None) is not None:
        return authorize(request)
    settings = intake(request).settings
    key = presented_key(request.headers.get("authorization"))
    role = role_of(key, settings)
    if role in ("admin", "marketer"):
        return f"{role}-key:{key_digest(str(key))[:10]}"
    if role is not None or key in (settings.write_keys + settings.read_keys
                                   + settings.privacy_keys):
        raise Forbidden("changing definitions takes a marketer or admin key")
    check(key, settings.admin_keys + settings.marketer_keys, CHANGE_HELP)
    raise AuthError("unknown key")  # unreachable: `check` refused it


def authorize(request: Request) -> str:
    """Let the request in if its route's line in `api/_scopes.ROUTES` names the caller's role
    (a key in the header, or the dashboard's session), and return who it is, for the audit:
    `<role>-key:<digest>`, `<role>-session:<digest of its key>` or `<role>-user:<name>`.
    401 without a known key, 403 with one whose role the route does not take; a change made
    with the session cookie must also come from the dashboard's own pages."""
    route = request.scope.get("route")
    method = "GET" if request.method == "HEAD" else request.method
    allowed = ROUTES.get((method, str(getattr(route, "path", ""))), frozenset())
    header = request.headers.get("authorization")
    if header is None and "header" not in allowed:
        current = session(request)
        if current is not None:
            role = str(current["r"])
            if role not in allowed:
                raise Forbidden(f"a {role} may not {method} {request.url.path}")
            if request.method not in _SAFE and not _same_origin(request):
                raise Forbidden("a change from the dashboard must come from its own pages "
                                "(the Origin header names another site)")
            if "u" in current:
                return f"{role}-user:{current['u']}"
            return f"{role}-session:{str(current['k'])[:10]}"
    settings = services(request).settings
    key = presented_key(header)
    check(key, settings.admin_keys + settings.marketer_keys + settings.viewer_keys,
          ADMIN_HELP)
    found = role_of(key, settings)
    if found not in allowed:
        raise Forbidden(f"a {found} key may not {method} {request.url.path}")
    return f"{found}-key:{key_digest(str(key))[:10]}"
