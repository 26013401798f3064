"""Access control, from the application's own route table: every route declares who may call
it (`intently.api._scopes.ROUTES`), a new route without a line there fails, and each role gets
in exactly where its line says. Then sessions: a logout or a removed key ends them; a change
from another site is refused; security headers are on every answer."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import T0
from intently import Engine, ManualClock, Settings
from intently.api import create_app
from intently.api._scopes import ROUTES
from intently.engine import EngineWorker
from intently.store import MemoryStore

KEYS = {"write": "wk", "read": "till", "privacy": "dpo", "viewer": "view", "marketer": "mkt",
        "admin": "admin"}
DASHBOARD = ("viewer", "marketer", "admin")  # roles a session can have
ORIGIN = {"Origin": "http://testserver"}
STREAMS = {("GET", "/v1/dashboard/stream")}  # stays open once let in: refusals only
PARAMS = {"identifier": "u1", "account_id": "acme", "name": "vip", "token": "t0k3n"}


def _settings(**extra: Any) -> Settings:
    return Settings(write_keys=(KEYS["write"],), read_keys=(KEYS["read"],),
                    privacy_keys=(KEYS["privacy"],), viewer_keys=(KEYS["viewer"],),
                    marketer_keys=(KEYS["marketer"],), admin_keys=(KEYS["admin"], "spare"),
                    **extra)


@pytest.fixture
def app() -> Iterator[FastAPI]:
    s = _settings()
    worker = EngineWorker(Engine(MemoryStore(), settings=s, clock=ManualClock(T0))).start()
    yield create_app(worker, s)
    worker.stop()


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    def walk(routes: list[Any]) -> Iterator[Any]:
        for r in routes:
            yield from walk(r.original_router.routes) if hasattr(r, "original_router") else [r]

    return {(m, r.path) for r in walk(app.routes) for m in getattr(r, "methods", ()) or ()
            if m != "HEAD"}


def _signed_in(app: FastAPI, key: str = KEYS["admin"]) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    assert client.post("/login", data={"key": key}).status_code == 303
    return client


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    url = re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], path)
    body: dict[str, Any] = {"json": {}} if method in ("POST", "PUT") else {}
    if path == "/login":  # the route is the credential check itself: give it the key, in a
        body = {"data": {"key": KEYS["admin"]}}  # client of its own (the session is kept)
        client = TestClient(client.app, follow_redirects=False)
    return client.request(method, url, headers=headers, **body)


def _refused(path: str, response: Any) -> bool:
    """401 or 403; for the dashboard's page, the way to the login."""
    return response.status_code in (401, 403) or (
        path == "/" and response.headers.get("location") == "/login")


def test_every_route_declares_who_may_call_it(app: FastAPI) -> None:
    routes = _routes(app)
    assert len(routes) > 50
    assert sorted(routes - ROUTES.keys()) == [], "routes without a line in api/_scopes.py"
    assert sorted(ROUTES.keys() - routes) == [], "lines in api/_scopes.py for no route"


def test_each_role_gets_in_exactly_where_its_scope_says(app: FastAPI) -> None:
    anonymous = TestClient(app, follow_redirects=False)
    keyed = {role: {"Authorization": f"Bearer {key}"} for role, key in KEYS.items()}
    keyed["write"] = {"Authorization": "Basic d2s6"}  # "wk:", as Segment's SDKs send it
    sessions = {f"session:{r}": _signed_in(app, KEYS[r]) for r in DASHBOARD}
    wrong = []
    # the logout last: it ends each session
    for method, path in sorted(ROUTES, key=lambda r: r == ("POST", "/logout")):
        allowed = ROUTES[(method, path)]
        for role in ["anyone", *KEYS, *sessions]:
            if role in sessions:  # a session: its key's role, unless the route wants a header
                kind = role.split(":")[1]
                let_in = bool({"anyone", "session"} & allowed) or (
                    kind in allowed and "header" not in allowed)
            else:
                let_in = role in allowed or "anyone" in allowed
            if let_in and (method, path) in STREAMS:
                continue
            if role in sessions:
                response = _call(sessions[role], method, path, ORIGIN)
            else:
                response = _call(anonymous, method, path, keyed.get(role, {}))
            if _refused(path, response) == let_in:
                wrong.append(f"{method} {path} as {role}: {response.status_code} "
                             f"(should {'get in' if let_in else 'be refused'})")
    assert wrong == [], "\n".join(wrong)


def test_a_write_key_decides_only_for_receipts_that_name_no_one(app: FastAPI) -> None:
    client = TestClient(app)
    wk = ("wk", "")
    assert client.post("/v1/decide", auth=wk, json={"items": ["x"]}).status_code == 200
    for who in ("userId", "customer", "anonymousId"):
        r = client.post("/v1/decide", auth=wk, json={"items": ["x"], who: "ann@example.com"})
        assert r.status_code == 403 and "read key" in r.json()["message"]
    r = client.post("/v1/decide", auth=("till", ""),
                    json={"items": ["x"], "userId": "ann@example.com"})
    assert r.status_code == 200


def test_viewers_read_marketers_change_and_privacy_takes_a_key(app: FastAPI) -> None:
    rule = {"text": "orders >= 2"}
    viewer, marketer, admin = (_signed_in(app, KEYS[r]) for r in DASHBOARD)
    assert viewer.get("/v1/segments").status_code == 200
    refused = viewer.put("/v1/segments/vip", json=rule, headers=ORIGIN)
    assert refused.status_code == 403 and "viewer" in refused.json()["message"]
    assert marketer.put("/v1/segments/vip", json=rule, headers=ORIGIN).status_code == 200
    for client in (marketer, admin):  # the cookie never reaches the privacy routes
        assert client.post("/v1/privacy/export", json={"identifier": "x"},
                           headers=ORIGIN).status_code == 401
    keyed = TestClient(app)
    assert keyed.post("/v1/privacy/export", json={"identifier": "x"},
                      headers={"Authorization": "Bearer mkt"}).status_code == 401
    assert keyed.delete("/v1/segments/vip",
                        headers={"Authorization": "Bearer view"}).status_code == 403
    assert keyed.delete("/v1/segments/vip",
                        headers={"Authorization": "Bearer mkt"}).status_code == 200


def test_every_change_is_audited_with_who_before_and_after(app: FastAPI) -> None:
    marketer = _signed_in(app, KEYS["marketer"])
    first, second = {"text": "orders >= 2"}, {"text": "orders >= 3"}
    assert marketer.put("/v1/segments/vip", json=first, headers=ORIGIN).status_code == 200
    keyed = TestClient(app, headers={"Authorization": f"Bearer {KEYS['admin']}"})
    assert keyed.put("/v1/segments/vip", json=second).status_code == 200
    assert keyed.delete("/v1/segments/vip").status_code == 200
    assert keyed.put("/v1/offers", json=[{"when": ["tea"], "offer": "honey"}]
                     ).status_code == 200
    viewer = TestClient(app, headers={"Authorization": f"Bearer {KEYS['viewer']}"})
    assert viewer.put("/v1/segments/vip", json=first).status_code == 403  # refused: no row
    log = keyed.get("/v1/privacy/log").json()["requests"]
    rows = [(r["verb"], r["subject"], r["actor"].split(":")[0]) for r in log]
    assert rows == [("offers.put", "offers", "admin-key"), ("segment.delete", "vip", "admin-key"),
                    ("segment.put", "vip", "admin-key"),
                    ("segment.put", "vip", "marketer-session")]
    details = [json.loads(r["detail"]) for r in log]
    assert details[3]["before"] is None and details[3]["after"]["text"] == "orders >= 2"
    assert details[2]["before"]["text"] == "orders >= 2"
    assert details[2]["after"]["text"] == "orders >= 3"
    assert details[1]["after"] is None
    assert details[0]["before"] == [] and details[0]["after"][0]["offer"] == "honey"
    assert KEYS["marketer"] not in str(log)  # keys are named by a digest, never themselves
    assert all(len(r["actor"].split(":")[1]) == 10 for r in log)


def test_a_logout_ends_the_session_for_good(app: FastAPI) -> None:
    client = _signed_in(app)
    cookie = dict(client.cookies)
    assert client.get("/v1/stats").status_code == 200
    assert client.post("/logout").status_code == 303
    again = TestClient(app, cookies=cookie)  # the old cookie, kept by someone
    assert again.get("/v1/stats").status_code == 401
    fresh = _signed_in(app)  # other sessions go on
    assert fresh.get("/v1/stats").status_code == 200
    # and the logout is kept in the store: a new app on the same engine refuses it too
    services = app.state.services
    rebuilt = create_app(services.worker, services.settings)
    assert TestClient(rebuilt, cookies=cookie).get("/v1/stats").status_code == 401


def test_a_removed_admin_key_ends_its_sessions(app: FastAPI) -> None:
    mine = _signed_in(app, "admin")
    other = _signed_in(app, "spare")
    services = app.state.services
    services.settings = dataclasses.replace(services.settings, admin_keys=("spare",))
    assert mine.get("/v1/stats").status_code == 401
    assert other.get("/v1/stats").status_code == 200


def test_a_change_from_another_site_is_refused(app: FastAPI) -> None:
    client = _signed_in(app)
    rule = {"text": "orders >= 2"}
    evil = client.put("/v1/segments/vip", json=rule, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    assert client.put("/v1/segments/vip", json=rule).status_code == 403  # no Origin at all
    fetch = client.put("/v1/segments/vip", json=rule, headers={"Sec-Fetch-Site": "same-origin"})
    assert fetch.status_code == 200
    assert client.put("/v1/segments/vip", json=rule, headers=ORIGIN).status_code == 200
    assert client.get("/v1/segments").status_code == 200  # reads need no Origin


def test_security_headers_and_docs_behind_sign_in(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    for path in ("/login", "/health", "/v1/stats"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
    for path in ("/docs", "/redoc"):
        assert client.get(path).status_code == 404  # no CDN-served pages
    assert client.get("/openapi.json").status_code == 401
    document = _signed_in(app).get("/openapi.json")
    assert document.status_code == 200 and "/v1/privacy/erase" in document.json()["paths"]
