"""`POST /v1/decide`, the one-event ingest calls (`/v1/track`, `/v1/t`, ...) and the batch
calls (`/v1/batch`, `/v1/b`, `/v1/import`) answered before the framework (`intently.api._fast`):
the same answers as the framework's routes for what it takes, every refusal handed to the
framework's route with the body as received (one streamed past the limit included), the headers
the middleware adds (security, and CORS on ingest) on its answers, and a defect logged and
answered as the app's defect handler answers it."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import T0
from intently import Engine, ManualClock, Settings
from intently.api import create_app
from intently.api._fast import FastApp
from intently.api._headers import SECURITY_HEADERS
from intently.engine import EngineWorker
from intently.store import MemoryStore

RULES = [{"when": ["champagne", "candy"], "offer": "flowers", "discount": 20},
         {"when": ["champagne"], "offer": "glasses", "audience": "orders >= 5"}]
ADMIN = {"Authorization": "Bearer admin"}


@pytest.fixture
def app() -> Iterator[FastApp]:
    s = Settings(write_keys=("wk",), read_keys=("till",), admin_keys=("admin",),
                 max_request_bytes=4096)
    worker = EngineWorker(Engine(MemoryStore(), settings=s, clock=ManualClock(T0))).start()
    app = create_app(worker, s)
    assert isinstance(app, FastApp) and ("POST", "/v1/decide") in app.fast
    client = TestClient(app)
    assert client.put("/v1/offers", json=RULES, headers=ADMIN).status_code == 200
    client.post("/v1/identify", auth=("wk", ""), json={"userId": "ann", "timestamp": T0})
    yield app
    worker.stop()


def _both(app: FastApp, path: str = "/v1/decide", **request: Any
          ) -> tuple[httpx.Response, httpx.Response]:
    """The same request answered by the fast path, then by the framework's route alone."""
    client = TestClient(app)
    fast = client.post(path, **request)
    routes, app.fast = app.fast, {}
    try:
        framework = client.post(path, **request)
    finally:
        app.fast = routes
    return fast, framework


class _Counted:
    """The app's middleware stack (the framework), counting the requests it gets."""

    def __init__(self, app: FastApp) -> None:
        TestClient(app).get("/health")  # the stack is built on the first request
        self.stack, self.calls = app.middleware_stack, 0
        app.middleware_stack = self  # type: ignore[assignment]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += scope["type"] == "http"
        await self.stack(scope, receive, send)  # type: ignore[misc]


def _security(r: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS:
        assert r.headers[name.decode()] == value.decode()


def test_the_fast_path_answers_as_the_framework_route(app: FastApp) -> None:
    receipts = [{"items": ["Champagne", "candy"]},
                {"items": [{"name": "champagne", "price": 30}, {"sku": "candy"}]},
                {"items": ["bread"]}]
    framework_calls = _Counted(app)
    for i, receipt in enumerate(receipts):  # anonymous: no offer cap between the two
        fast, framework = _both(app, auth=("wk", ""), json=receipt)
        assert framework_calls.calls == i + 1  # the second of the two alone
        assert fast.status_code == framework.status_code == 200, (i, fast.text)
        assert fast.json() == framework.json()
        assert fast.headers["content-type"] == "application/json"
        _security(fast)
    assert _both(app, auth=("wk", ""), json=receipts[0])[0].json()["offers"][0][
        "offer"] == "flowers"
    named, _ = _both(app, auth=("till", ""), json={"userId": "ann", "items": ["champagne"],
                                                   "timestamp": T0 + 5})
    assert named.status_code == 200 and named.json()["customer"] == "ann"


@pytest.mark.parametrize("request_", [
    {"json": {"items": ["x"]}},  # no key
    {"json": {"items": ["x"]}, "auth": ("nobody", "")},  # an unknown key
    {"json": {"items": ["x"]}, "headers": {"Authorization": "Basic %%%"}},  # malformed
    {"json": {"items": ["x"], "userId": "ann"}, "auth": ("wk", "")},  # a write key names
    {"content": b'{"items": ["x"', "auth": ("wk", "")},  # malformed JSON
    {"json": {"items": []}, "auth": ("wk", "")},  # no item
    {"json": {"items": "champagne"}, "auth": ("wk", "")},  # the wrong type, named by path
    {"json": {"items": ["x" * 5000]}, "auth": ("wk", "")},  # over the limit
], ids=["no-key", "unknown-key", "malformed-key", "write-key-names", "malformed-json",
        "no-item", "wrong-type", "too-large"])
def test_refusals_are_the_framework_routes_answers(app: FastApp, request_: dict[str, Any]
                                                   ) -> None:
    framework_calls = _Counted(app)
    fast, framework = _both(app, **request_)
    assert framework_calls.calls == 2  # handed on
    assert 400 <= fast.status_code < 500
    assert (fast.status_code, fast.json(), fast.headers.get("www-authenticate")) == (
        framework.status_code, framework.json(), framework.headers.get("www-authenticate"))
    _security(fast)


def test_a_compressed_or_streamed_body_goes_through_the_framework(app: FastApp) -> None:
    receipt = json.dumps({"items": ["champagne", "candy"]}).encode()
    client = TestClient(app)
    r = client.post("/v1/decide", auth=("wk", ""), content=gzip.compress(receipt),
                    headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["offers"][0]["offer"] == "flowers"

    def chunks() -> Iterator[bytes]:  # no Content-Length: read until the limit, then handed on
        yield b'{"items": ["'
        for _ in range(10):
            yield b"x" * 1000

    r = client.post("/v1/decide", auth=("wk", ""), content=chunks())
    assert r.status_code == 413 and "limit" in r.json()["message"]
    small = iter([receipt[:10], receipt[10:]])
    r = client.post("/v1/decide", auth=("wk", ""), content=small)
    assert r.status_code == 200 and r.json()["offers"][0]["offer"] == "flowers"


def test_a_defect_in_the_decision_is_logged_and_answered_500(
        app: FastApp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    engine = app.state.services.worker.engine

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("a defect")

    monkeypatch.setattr(engine.decider, "decide", broken)
    with caplog.at_level(logging.ERROR, logger="intently.api"):
        r = TestClient(app).post("/v1/decide", auth=("wk", ""), json={"items": ["x"]})
    assert r.status_code == 500 and r.json()["code"] == "internal"
    assert "RuntimeError" in r.json()["message"] and "a defect" not in r.text
    logged = [rec for rec in caplog.records if rec.getMessage() == "request failed"]
    assert logged and logged[0].exc_info is not None
    assert getattr(logged[0], "path", None) == "/v1/decide"


def test_an_error_of_the_tree_in_the_decision_keeps_its_status(
        app: FastApp, monkeypatch: pytest.MonkeyPatch) -> None:
    from intently._errors import StoreError

    engine = app.state.services.worker.engine

    def unreachable(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise StoreError("the store is unreachable")

    monkeypatch.setattr(engine.decider, "decide", unreachable)
    fast, framework = _both(app, auth=("wk", ""), json={"items": ["x"]})
    assert (fast.status_code, fast.json()) == (framework.status_code, framework.json())
    assert fast.status_code == StoreError("x").status
    _security(fast)


def test_other_routes_and_methods_go_through_the_framework(app: FastApp) -> None:
    client = TestClient(app)
    assert client.get("/v1/decide", auth=("wk", "")).status_code == 405
    r = client.get("/v1/offers", headers=ADMIN)
    assert r.status_code == 200 and {o["offer"] for o in r.json()} == {"flowers", "glasses"}
    _security(r)


def _track(message_id: str, **extra: Any) -> dict[str, Any]:
    return {"userId": "bob", "event": "Product Viewed", "messageId": message_id,
            "timestamp": T0 + 1, "properties": {"product_id": "p1"}, **extra}


def _cors(r: httpx.Response) -> None:
    assert r.headers["access-control-allow-origin"] == "*"
    _security(r)


def test_one_event_calls_are_answered_and_stored_as_by_the_framework(app: FastApp) -> None:
    engine = app.state.services.worker.engine
    framework_calls = _Counted(app)
    for i, (path, request) in enumerate([
            ("/v1/track", {"auth": ("wk", ""), "json": _track("m1")}),
            ("/v1/t", {"json": _track("m2", writeKey="wk")}),  # the key in the body
            ("/v1/identify", {"auth": ("wk", ""), "json": {
                "userId": "bob", "messageId": "m3", "traits": {"email": "bob@example.com"}}}),
            ("/v1/page", {"headers": {"Authorization": "Bearer wk"}, "json": {
                "anonymousId": "d1", "messageId": "m4", "name": "Home"}})]):
        fast, framework = _both(app, path, **request)  # the same messageId: a duplicate
        assert framework_calls.calls == i + 1
        assert fast.status_code == framework.status_code == 200, fast.text
        assert fast.json() == {"success": True, "accepted": 1, "duplicates": 0}
        assert framework.json() == {"success": True, "accepted": 0, "duplicates": 1}
        _cors(fast)
    bob = engine.profile("bob")
    assert bob is not None and bob.events == 3 and bob.traits["email"] == "bob@example.com"
    assert engine.profile("d1") is not None


@pytest.mark.parametrize("request_", [
    {"json": _track("r1")},  # no key anywhere
    {"json": _track("r2"), "auth": ("nobody", "")},  # an unknown key in the header
    {"json": _track("r3", writeKey="nobody")},  # and in the body
    {"content": b'{"event": "x"', "auth": ("wk", "")},  # malformed, with a key: 400
    {"content": b'{"event": "x"'},  # malformed without one: 401, nothing learned
    {"content": b"[1, 2]", "auth": ("wk", "")},  # not an object
    {"content": b"[" * 5000 + b"]" * 5000, "auth": ("wk", "")},  # nested too deeply
    {"json": {"event": "x", "messageId": "r8"}, "auth": ("wk", "")},  # no user or device
    {"json": _track("r9", timestamp="yesterday"), "auth": ("wk", "")},  # a field named
    {"json": _track("r10", properties={"p": "x" * 40_000}), "auth": ("wk", "")},  # too large
], ids=["no-key", "unknown-key", "unknown-body-key", "malformed", "malformed-no-key",
        "not-object", "too-deep", "no-identity", "bad-timestamp", "too-large"])
def test_refused_events_are_the_framework_routes_answers(app: FastApp, request_: dict[str, Any]
                                                        ) -> None:
    _refused_as_by_the_framework(app, "/v1/track", request_)


def _refused_as_by_the_framework(app: FastApp, path: str, request_: dict[str, Any]) -> None:
    """An ingest request the fast path hands on: the framework's answer, nothing stored."""
    engine = app.state.services.worker.engine
    before = engine.events_stored()
    framework_calls = _Counted(app)
    fast, framework = _both(app, path, **request_)
    assert framework_calls.calls == 2  # handed on
    assert 400 <= fast.status_code < 500
    assert (fast.status_code, fast.json(), fast.headers.get("www-authenticate")) == (
        framework.status_code, framework.json(), framework.headers.get("www-authenticate"))
    _cors(fast)
    assert engine.events_stored() == before


def test_an_event_the_engine_refuses_is_answered_as_by_the_framework(app: FastApp) -> None:
    """Refused after `prepare`, by the engine on submit: a body just under the limit that the
    event's stored form (its receive time and context added) takes over it."""
    event = _track("e1", properties={"a": "", **{k: "x" * 8000 for k in "bcd"}})
    event["properties"]["a"] = "x" * (32_740 - len(json.dumps(event)))
    body = json.dumps(event).encode()
    framework_calls = _Counted(app)
    fast, framework = _both(app, "/v1/track", auth=("wk", ""), content=body)
    assert framework_calls.calls == 1  # the fast path answered the first
    assert fast.status_code == 413 and "over the" in fast.json()["message"]
    assert (fast.status_code, fast.json()) == (framework.status_code, framework.json())
    _cors(fast)


def test_a_compressed_event_goes_through_the_framework(app: FastApp) -> None:
    body = gzip.compress(json.dumps(_track("z1")).encode())
    r = TestClient(app).post("/v1/track", auth=("wk", ""), content=body,
                             headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    _cors(r)


def _stored(engine: Any) -> list[tuple[dict[str, Any], float]]:
    """The log's events and the times they are filed at."""
    return [(json.loads(e.payload), e.ts) for part in engine.store.read_log(0) for e in part]


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/b", "/v1/import"])
def test_batch_calls_are_answered_and_stored_as_by_the_framework(app: FastApp, path: str
                                                                 ) -> None:
    engine = app.state.services.worker.engine
    before = len(_stored(engine))
    framework_calls = _Counted(app)
    plain = {"batch": [_track("b1"), {"type": "identify", "userId": "cy", "messageId": "b2",
                                      "traits": {"plan": "pro"}}]}
    keyed = {"batch": [_track("b3")], "writeKey": "wk", "sentAt": T0 + 10}
    shared = {"batch": [_track("b4"), _track("b5", context={"ip": "10.0.0.9"})],
              "context": {"library": {"name": "analytics-python"}}}
    for i, (body, auth) in enumerate([(plain, ("wk", "")), (keyed, None), (shared, ("wk", ""))]):
        request: dict[str, Any] = {"json": body} | ({"auth": auth} if auth else {})
        fast, framework = _both(app, path, **request)  # the same messageIds: duplicates
        assert framework_calls.calls == i + 1  # the fast path answered the first
        n = len(body["batch"])
        assert fast.status_code == framework.status_code == 200, fast.text
        assert fast.json() == {"success": True, "accepted": n, "duplicates": 0}
        assert framework.json() == {"success": True, "accepted": 0, "duplicates": n}
        _cors(fast)
    filed = {e["messageId"]: ts for e, ts in _stored(engine)[before:]}
    stored = {e["messageId"]: e for e, _ in _stored(engine)[before:]}
    assert list(stored) == ["b1", "b2", "b3", "b4", "b5"]
    assert stored["b1"] == _track("b1")  # as sent
    assert filed["b1"] == T0 + 1
    assert filed["b3"] == T0 - 9  # the device's clock ran 10 s ahead (the batch's sentAt)
    assert stored["b4"]["context"] == {"library": {"name": "analytics-python"}}  # merged
    assert stored["b5"]["context"] == {"library": {"name": "analytics-python"},
                                       "ip": "10.0.0.9"}
    cy = engine.profile("cy")
    assert cy is not None and cy.traits["plan"] == "pro"


@pytest.mark.parametrize("request_", [
    {"json": {"batch": [_track("q1")]}},  # no key anywhere
    {"json": {"batch": [_track("q2")]}, "auth": ("nobody", "")},  # an unknown key
    {"json": {"batch": [_track("q3")], "writeKey": "nobody"}},  # and in the body
    {"content": b'{"batch": [', "auth": ("wk", "")},  # malformed, with a key: 400
    {"content": b'{"batch": ['},  # malformed without one: 401, nothing learned
    {"json": {"batch": []}, "auth": ("wk", "")},  # nothing in it
    {"json": {"batch": {"event": "x"}}, "auth": ("wk", "")},  # not a list
    {"json": {"batch": [_track("q8"), {"event": "x", "messageId": "q9"}]},
     "auth": ("wk", "")},  # the second event has no user or device: named
    {"json": {"batch": [_track("q10", timestamp="yesterday")]}, "auth": ("wk", "")},
    {"json": {"batch": [_track("q11")], "sentAt": "soon"}, "auth": ("wk", "")},
    {"json": {"batch": [_track(f"q12-{i}", properties={"p": "x" * 30_000})
                        for i in range(20)]}, "auth": ("wk", "")},  # over the batch limit
], ids=["no-key", "unknown-key", "unknown-body-key", "malformed", "malformed-no-key", "empty",
        "not-list", "no-identity", "bad-timestamp", "bad-sent-at", "too-large"])
def test_refused_batches_are_the_framework_routes_answers(app: FastApp, request_: dict[str, Any]
                                                         ) -> None:
    _refused_as_by_the_framework(app, "/v1/batch", request_)


def test_a_batch_streamed_past_the_limit_is_refused(app: FastApp) -> None:
    """No Content-Length, and the last chunk both completes the JSON and crosses the limit:
    the fast path must not take a body its route would refuse."""
    engine = app.state.services.worker.engine
    before = engine.events_stored()
    limit = engine.settings.max_batch_bytes
    events = [json.dumps(_track(f"s{i}", properties={"p": "x" * 30_000})).encode()
              for i in range(limit // 30_000 + 1)]
    body = b'{"batch": [' + b",".join(events) + b"]}"
    assert len(body) > limit and len(body) - len(events[-1]) < limit

    def chunks() -> Iterator[bytes]:
        yield body[: -len(events[-1]) - 2]
        yield body[-len(events[-1]) - 2 :]

    r = TestClient(app).post("/v1/batch", auth=("wk", ""), content=chunks())
    assert r.status_code == 413 and "limit" in r.json()["message"], r.text
    assert engine.events_stored() == before


def test_a_compressed_batch_goes_through_the_framework(app: FastApp) -> None:
    body = gzip.compress(json.dumps({"batch": [_track("z2"), _track("z3")]}).encode())
    framework_calls = _Counted(app)
    r = TestClient(app).post("/v1/batch", auth=("wk", ""), content=body,
                             headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json()["accepted"] == 2
    assert framework_calls.calls == 1
    _cors(r)
