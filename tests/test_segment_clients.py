"""Segment compatibility as real clients see it: the official Python libraries of Segment and
RudderStack with their default settings against a real `intently serve`, and the wire details
they and browser libraries rely on (compressed bodies, short paths, CORS, error shapes)."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import T0, track
from intently import Engine, ManualClock, Settings
from intently.api import create_app
from intently.engine import EngineWorker
from intently.store import MemoryStore
from intently.testing import free_port, start_server

pytestmark = pytest.mark.integration

WRITE = ("wk", "")
ADMIN = {"Authorization": "Bearer wk"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    s = Settings(write_keys=("wk",), admin_keys=("wk",))
    worker = EngineWorker(Engine(MemoryStore(), settings=s, clock=ManualClock(T0))).start()
    yield TestClient(create_app(worker, s))
    worker.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    proc = start_server(tmp_path_factory.mktemp("sdk") / "sdk.db", port, "wk")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


def profile(base: str, identifier: str) -> dict:  # type: ignore[type-arg]
    r = httpx.get(f"{base}/v1/profiles/{identifier}", headers=ADMIN, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_segments_python_library_lands_every_call(server: str) -> None:
    from segment.analytics import Client

    errors: list[Exception] = []
    sdk = Client("wk", host=server, on_error=lambda e, batch: errors.append(e))
    sdk.track(anonymous_id="seg-anon", event="Product Viewed", properties={"price": 20})
    sdk.identify("seg-user", {"email": "Seg@Shop.test", "name": "Sam"},
                 anonymous_id="seg-anon")
    sdk.track("seg-user", "Order Completed", {"revenue": "20.00", "order_id": "o-1"})
    sdk.group("seg-user", "acme", {"name": "Acme Inc"})
    sdk.alias("seg-old", "seg-user")
    sdk.page("seg-user", "Docs", "Home")
    sdk.screen("seg-user", "App", "Cart")
    sdk.flush()
    sdk.join()
    assert errors == []
    p = profile(server, "seg-anon")  # the anonymous visitor merged into the customer
    assert p["user_id"] == "seg-user" and p["traits"]["name"] == "Sam"
    assert profile(server, "seg@shop.test")["id"] == p["id"] == profile(server, "seg-old")["id"]
    figures = p["aggregates"]
    assert figures["events"] == 7 and (figures["orders"], figures["revenue"]) == (1, 20.0)
    assert "Acme Inc" not in str(p["traits"])  # the company's name stays off the person
    assert p["accounts"] == ["acme"]  # it is the account's
    r = httpx.get(f"{server}/v1/accounts/acme", headers=ADMIN, timeout=10)
    assert r.status_code == 200 and r.json()["traits"] == {"name": "Acme Inc"}
    assert [m["id"] for m in r.json()["members"]] == [p["id"]]
    assert httpx.get(f"{server}/v1/accounts/nobody", headers=ADMIN, timeout=10
                     ).status_code == 404


def test_rudderstacks_python_library_with_gzip_and_context_traits(server: str) -> None:
    from rudderstack.analytics import Client

    errors: list[Exception] = []
    sdk = Client("wk", host=server, on_error=lambda e, batch: errors.append(e))
    assert sdk.gzip  # its default
    sdk.identify("rs-user", {"email": "rs@shop.test", "plan": "gold"})
    sdk.track("rs-user", "Product Added", {"price": 5})
    sdk.flush()
    sdk.join()
    assert errors == []
    p = profile(server, "rs@shop.test")
    assert p["id"] == profile(server, "rs-user")["id"] and p["traits"]["plan"] == "gold"


def test_a_bad_call_is_reported_and_not_retried_by_the_library(server: str) -> None:
    from rudderstack.analytics import Client
    from rudderstack.analytics.request import APIError

    errors: list[Exception] = []
    sdk = Client("wk", host=server, on_error=lambda e, batch: errors.append(e))
    sdk.track("rs-bad", "Order Completed", {"revenue": -20})
    sdk.flush()
    sdk.join()
    assert len(errors) == 1 and isinstance(errors[0], APIError)
    assert errors[0].status == 400 and "revenue" in errors[0].message


def test_sigterm_stops_the_server(tmp_path: Path) -> None:
    port = free_port()
    proc = start_server(tmp_path / "t.db", port, "wk")
    httpx.post(f"http://127.0.0.1:{port}/v1/track", auth=WRITE, timeout=10,
               json=track("X", user="u"))
    proc.terminate()
    assert proc.wait(timeout=20) in (0, -15)  # uvicorn re-raises the signal once it is done


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies(client: TestClient, encoding: str) -> None:
    body = httpx.Request("POST", "/", json={"batch": [track("X", user="z", mid="z1")]}).read()
    packed = gzip.compress(body) if encoding == "gzip" else zlib.compress(body)
    r = client.post("/v1/batch", content=packed, auth=WRITE,
                    headers={"Content-Encoding": encoding})
    assert r.status_code == 200 and r.json()["accepted"] == 1


def test_a_compressed_bomb_is_refused(client: TestClient) -> None:
    bomb = gzip.compress(b'{"batch": [' + b" " * 20_000_000 + b"]}")
    assert len(bomb) < 100_000
    r = client.post("/v1/batch", content=bomb, auth=WRITE, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413 and "decompressed" in r.json()["message"]
    r = client.post("/v1/batch", content=b"not gzip", auth=WRITE,
                    headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_event"


def test_short_paths_write_key_in_the_body_and_null_properties(client: TestClient) -> None:
    for path, body in [("/v1/t", track("X", user="s")),
                       ("/v1/i", {"userId": "s", "traits": {"a": 1}}),
                       ("/v1/p", {"userId": "s", "name": "Home", "properties": None}),
                       ("/v1/s", {"userId": "s", "name": "Cart"}),
                       ("/v1/g", {"userId": "s", "groupId": "g"}),
                       ("/v1/a", {"userId": "s", "previousId": "s-old"}),
                       ("/v1/b", {"batch": [track("Y", user="s")]})]:
        r = client.post(path, json={**body, "writeKey": "wk"})
        assert r.status_code == 200, (path, r.text)
    assert client.get("/v1/profiles/s", headers=ADMIN).json()["aggregates"]["events"] == 7


def test_cors_lets_browser_libraries_send(client: TestClient) -> None:
    r = client.options("/v1/batch", headers={
        "Origin": "https://shop.test", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization"})
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "*"
    assert "authorization" in r.headers["access-control-allow-headers"]
    r = client.post("/v1/t", content=httpx.Request("POST", "/", json={
        **track("X", user="b"), "writeKey": "wk"}).read(),
        headers={"Origin": "https://shop.test", "Content-Type": "text/plain"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    r = client.get("/v1/profiles/b", headers={**ADMIN, "Origin": "https://shop.test"})
    assert "access-control-allow-origin" not in r.headers  # reads stay same-origin


def test_errors_have_the_shape_the_libraries_read(client: TestClient) -> None:
    r = client.post("/v1/track", json={"event": "X"}, auth=WRITE)
    body = r.json()
    assert r.status_code == 400 and body["success"] is False
    assert body["code"] == "invalid_event" and body["message"].startswith("$.userId")
    r = client.post("/v1/track", json=track("X", user="u"))
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"


def test_a_segment_export_line_is_accepted(client: TestClient) -> None:
    line = {"type": "track", "event": "Product Viewed", "userId": "exp", "messageId": "e-1",
            "timestamp": "2026-09-01T10:00:00.000Z", "receivedAt": "2026-09-01T10:00:01.000Z",
            "sentAt": "2026-09-01T10:00:00.900Z", "originalTimestamp": "2026-09-01T10:00:00Z",
            "properties": None, "context": {"library": {"name": "analytics.js"}}}
    r = client.post("/v1/batch", json={"batch": [line]}, auth=WRITE)
    assert r.status_code == 200, r.text
    assert client.get("/v1/profiles/exp", headers=ADMIN).json()["first_seen"].startswith(
        "2026-09-01T10:00:00")


def test_bodies_are_bounded_on_every_route(client: TestClient) -> None:
    big = b"[" + b"1," * 600_000 + b"1]"
    for method, path in [("POST", "/v1/decide"), ("PUT", "/v1/offers"),
                         ("POST", "/v1/rules/validate"), ("PUT", "/v1/scenarios/x")]:
        r = client.request(method, path, content=big, headers=ADMIN)
        assert r.status_code == 413, (path, r.status_code, r.text[:200])


def test_health_tells_when_the_engine_stopped(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    worker = client.app.state.services.worker  # type: ignore[attr-defined]
    worker.failure = RuntimeError("disk on fire")
    r = client.get("/health")
    assert r.status_code == 503 and "disk on fire" in r.json()["error"]
    r = client.post("/v1/track", json=track("X", user="u"), auth=WRITE)
    assert r.status_code == 503 and r.json()["code"] == "unavailable"
    worker.failure = None
