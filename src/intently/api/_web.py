"""Routes of the dashboard: the login, the page and its assets (`intently.web`, shipped in the
package: no CDN, the machine may be offline). A login with an admin key gives a signed session
cookie; nothing is served anonymously but the login page."""

from __future__ import annotations

import html
import logging
import time
from importlib import resources
from math import ceil
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from ._admin import verify
from ._auth import (
    SESSION_COOKIE,
    SESSION_S,
    has_session,
    role_of,
    session,
    session_token,
    user_session_token,
)
from ._deps import on_engine, services
from ._sessions import META

_log = logging.getLogger("intently.api")

router = APIRouter(include_in_schema=False)
_STATIC = resources.files("intently.web") / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
          ".html": "text/html"}

_LOGIN = """<!doctype html><html lang=en><head><meta charset=utf-8>
<meta name=viewport content="width=device-width,initial-scale=1"><title>Intently · sign in</title>
<style>
body{{margin:0;min-height:100vh;display:grid;place-items:center;background:#f4f5f8;
font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d2130}}
form{{background:#fff;padding:2rem 2.2rem;border-radius:14px;box-shadow:0 8px 30px #0001;
width:min(22rem,86vw)}}
h1{{margin:0 0 .3rem;font-size:1.35rem}} p{{color:#667;margin:.2rem 0 1.2rem}}
input{{width:100%;box-sizing:border-box;padding:.65rem .8rem;border:1px solid #ccd;
border-radius:8px;font:inherit}}
button{{margin-top:1rem;width:100%;padding:.7rem;border:0;border-radius:8px;background:#4f46e5;
color:#fff;font:inherit;font-weight:600;cursor:pointer}}
.err{{color:#b42318;margin-top:.8rem}} .logo{{color:#4f46e5;font-weight:800}}
</style></head><body><form method=post action=/login>
<h1><span class=logo>●</span> Intently</h1><p>Sign in with your user name and password, or
with a key alone (admin, marketer or viewer).</p>
<label for=name>User name</label>
<input id=name name=name autocomplete=username autofocus>
<label for=key>Password or key</label>
<input id=key name=key type=password autocomplete=current-password required>
<button type=submit>Sign in</button>{error}</form></body></html>"""


@router.get("/login")
async def login_page() -> HTMLResponse:
    return HTMLResponse(_LOGIN.format(error=""))


@router.post("/login")
async def login(request: Request) -> Response:
    # a plain urlencoded form: parsed here rather than adding python-multipart for one field
    form = parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
    name = (form.get("name") or [""])[0].strip()
    key = (form.get("key") or [""])[0]
    svc = services(request)
    who = f"user:{name}" if name else f"key:{request.client.host if request.client else ''}"
    now = time.time()
    wait = svc.throttle.wait_s(who, now)
    if wait > 0:
        return _refused(f"too many failed sign-ins: try again in {ceil(wait / 60)} minutes",
                        429)
    if name:
        user = await verify(request, name, key)
        if user is None:
            svc.throttle.failed(who, now)
            _log.warning("a sign-in failed", extra={"user": name})
            return _refused("unknown user name or wrong password", 401)
        token = user_session_token(request, user.name, user.generation, user.role)
    else:
        role = role_of(key, svc.settings)
        if role is None:
            svc.throttle.failed(who, now)
            s = svc.settings
            configured = s.admin_keys + s.marketer_keys + s.viewer_keys or svc.users.list()
            return _refused("no dashboard key or user is configured: set INTENTLY_ADMIN_KEYS "
                            "or add a user (intently users add)" if not configured
                            else "that key is not an admin, marketer or viewer key", 401)
        token = session_token(request, key, role)
    svc.throttle.passed(who)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(SESSION_S), httponly=True,
                        samesite="strict", path="/")
    return response


def _refused(reason: str, status: int) -> HTMLResponse:
    return HTMLResponse(_LOGIN.format(error=f"<p class=err>{html.escape(reason)}</p>"),
                        status_code=status)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session: its token is refused from now on, on this server and after a
    restart (the logout is kept in the catalog until the token would have expired)."""
    current = session(request)
    if current is not None:
        text = services(request).sessions.revoke(str(current["sid"]), float(str(current["exp"])))
        await on_engine(request, lambda e: e.catalog.set_meta(META, text))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
async def index(request: Request) -> Response:
    if not has_session(request):
        return RedirectResponse("/login", status_code=303)
    return HTMLResponse((_STATIC / "index.html").read_text(),
                        headers={"cache-control": "no-store"})


@router.get("/static/{name}")
async def static(request: Request, name: str) -> Response:
    if not has_session(request):
        return Response("sign in first", status_code=401)
    path = _STATIC / name
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if "/" in name or suffix not in _TYPES or not path.is_file():
        return Response("not found", status_code=404)
    return Response(path.read_bytes(), media_type=_TYPES[suffix],
                    headers={"cache-control": "no-cache"})
