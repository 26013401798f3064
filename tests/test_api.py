from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import T0, track
from intently import Engine, ManualClock, Settings
from intently.api import create_app
from intently.engine import EngineWorker
from intently.store import MemoryStore

WRITE = ("wk", "")
ADMIN = {"Authorization": "Bearer admin"}


def make_client(**settings: object) -> TestClient:
    s = Settings(**{"write_keys": ("wk",), "admin_keys": ("admin",), **settings})  # type: ignore[arg-type]
    worker = EngineWorker(Engine(MemoryStore(), settings=s, clock=ManualClock(T0))).start()
    return TestClient(create_app(worker, s))


@pytest.fixture
def client() -> Iterator[TestClient]:
    c = make_client()
    yield c
    c.app.state.services.worker.stop()  # type: ignore[attr-defined]


def test_segment_calls_are_accepted_and_counted(client: TestClient) -> None:
    r = client.post("/v1/track", json=track("Product Viewed", anon="a1", mid="m1"), auth=WRITE)
    assert r.status_code == 200 and r.json() == {"success": True, "accepted": 1, "duplicates": 0}
    r = client.post("/v1/identify", auth=WRITE, json={"userId": "u1", "anonymousId": "a1",
                                                      "traits": {"email": "u1@x.com"}})
    assert r.status_code == 200
    r = client.post("/v1/page", auth=WRITE, json={"userId": "u1", "name": "Home"})
    r = client.post("/v1/alias", auth=WRITE, json={"previousId": "a1", "userId": "u1"})
    assert r.status_code == 200
    batch = {"batch": [track("Product Added", user="u1", mid="m2"),
                       track("Product Viewed", anon="a1", mid="m1")],
             "context": {"timezone": "Europe/Berlin"}}
    r = client.post("/v1/batch", json=batch, auth=WRITE)
    assert r.json() == {"success": True, "accepted": 1, "duplicates": 1}
    r = client.get("/v1/profiles/u1", headers=ADMIN)
    assert r.status_code == 200
    view = r.json()
    assert view["aggregates"]["events"] == 5 and view["timezone"] == "Europe/Berlin"
    assert view["aggregates"]["signal_counts"] == {"viewed_product": 1, "viewed_page": 1,
                                                   "added_to_cart": 1}
    assert view["timeline"][0].get("event") == "Product Added"


def test_write_key_in_the_batch_body_works_like_segment(client: TestClient) -> None:
    r = client.post("/v1/batch", json={"batch": [track("X", user="u")], "writeKey": "wk"})
    assert r.status_code == 200


def test_auth_errors_say_what_to_do(client: TestClient) -> None:
    r = client.post("/v1/track", json=track("X", user="u"))
    assert r.status_code == 401 and "missing key" in r.json()["message"]
    assert r.headers["www-authenticate"].startswith("Basic")
    r = client.post("/v1/track", json=track("X", user="u"), auth=("nope", ""))
    assert r.status_code == 401 and r.json()["message"] == "unknown key"
    r = client.get("/v1/profiles/u", auth=WRITE)  # a write key cannot read
    assert r.status_code == 401


def test_no_configured_key_refuses_writes_with_the_fix() -> None:
    c = make_client(write_keys=())
    r = c.post("/v1/track", json=track("X", user="u"), auth=WRITE)
    assert r.status_code == 401
    assert "INTENTLY_WRITE_KEYS" in r.json()["message"]
    c.app.state.services.worker.stop()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("body", "path", "words"), [
    ({"batch": [track("A", user="u"), {"event": "B"}]}, "$.batch[1].userId", "userId"),
    ({"batch": [{"event": "A", "userId": "u", "timestamp": "later"}]}, "$.batch[0].timestamp",
     "cannot parse"),
    ({"batch": [{"event": 5, "userId": "u"}]}, "$.batch[0].event", "Expected `str | null`"),
    ({"batch": []}, "$.batch", "empty"),
    ({"events": []}, "$", "missing required field `batch`"),
])
def test_bad_events_get_400_naming_the_field_and_nothing_is_kept(
        client: TestClient, body: dict, path: str, words: str) -> None:
    r = client.post("/v1/batch", json=body, auth=WRITE)
    assert r.status_code == 400
    err = r.json()
    assert err["error"] == "invalid_event" and err["path"] == path and words in err["message"]
    stats = client.get("/v1/stats", headers=ADMIN).json()
    assert stats["events_stored"] == 0


def test_malformed_json_and_wrong_shapes(client: TestClient) -> None:
    r = client.post("/v1/batch", content=b'{"batch": [', auth=WRITE)
    assert r.status_code == 400 and "malformed JSON" in r.json()["message"]
    r = client.post("/v1/track", content=b"[1, 2]", auth=WRITE)
    assert r.status_code == 400 and "JSON object" in r.json()["message"]


def test_oversized_payloads_get_413(client: TestClient) -> None:
    big = track("X", user="u", blob="x" * 40_000)
    r = client.post("/v1/track", json=big, auth=WRITE)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    r = client.post("/v1/batch", json={"batch": [track("ok", user="u"), big]}, auth=WRITE)
    assert r.status_code == 413 and r.json()["path"] == "$.batch[1]"
    r = client.post("/v1/batch", json={"batch": [track("X", user="u", blob="y" * 30_000)
                                                 for _ in range(20)]}, auth=WRITE)
    assert r.status_code == 413 and "request body" in r.json()["message"]


def test_unknown_profile_is_404(client: TestClient) -> None:
    r = client.get("/v1/profiles/ghost", headers=ADMIN)
    assert r.status_code == 404 and "ghost" in r.json()["message"]


def test_clusters_and_rule_validation(client: TestClient) -> None:
    r = client.get("/v1/intent/clusters", headers=ADMIN)
    assert r.status_code == 200 and len(r.json()["clusters"]) == r.json()["metrics"]["k"]
    r = client.post("/v1/rules/validate", headers=ADMIN,
                    json={"text": "orders >= 2 and did viewed_video in 7d and traits.vip = true"})
    assert r.status_code == 200
    body = r.json()
    assert body["text"] == "orders >= 2 and did viewed_video in 7d and traits.vip = true"
    assert body["rule"]["and"][0] == {"field": "orders", "op": ">=", "value": 2}
    assert body["unknown_fields"] == []
    r = client.post("/v1/rules/validate", headers=ADMIN, json={"text": "orders >= "})
    assert r.status_code == 400 and r.json()["position"] == 10
    assert "a value" in r.json()["expected"]
    r = client.post("/v1/rules/validate", headers=ADMIN,
                    json={"rule": {"and": [{"field": "x", "op": "~", "value": 1}]}})
    assert r.status_code == 400 and r.json()["path"] == "$.rule.and[0].op"
    r = client.post("/v1/rules/validate", headers=ADMIN, json={"text": "ordrs > 1"})
    assert r.json()["unknown_fields"] == ["ordrs"]


def test_segments_over_http(client: TestClient) -> None:
    client.post("/v1/batch", auth=WRITE, json={"batch": [
        track("Order Completed", user="rich", mid="o1", revenue=900),
        track("Order Completed", user="poor", mid="o2", revenue=9)]})
    r = client.put("/v1/segments/whales", headers=ADMIN, json={"text": "revenue >= 500"})
    assert r.status_code == 200 and r.json()["entered"] == 1
    r = client.put("/v1/segments/broken", headers=ADMIN, json={"text": "revenue >="})
    assert r.status_code == 400 and r.json()["position"] == 10
    # a field no record has (a typo) would make a segment that silently matches no one
    r = client.put("/v1/segments/typo", headers=ADMIN, json={"text": "revnue >= 500"})
    assert r.status_code == 400 and r.json()["path"] == "$.text"
    assert "unknown field 'revnue'" in r.json()["message"]
    r = client.put("/v1/segments/typo", headers=ADMIN, json={"rule": {"not": {
        "field": "ordres", "op": ">", "value": 1}}})
    assert r.status_code == 400 and r.json()["path"] == "$.rule"
    r = client.get("/v1/segments", headers=ADMIN)
    assert {s["name"]: s["size"] for s in r.json()} == {"whales": 1}
    r = client.get("/v1/segments/whales/members", headers=ADMIN)
    assert [m["profile_id"] for m in r.json()["members"]] == ["rich"]
    r = client.get("/v1/segments/whales/members?format=csv", headers=ADMIN)
    assert r.text.splitlines()[0] == "profile_id,since" and r.text.splitlines()[1].startswith(
        "rich,")
    r = client.get("/v1/segments/whales/history", headers=ADMIN)
    assert r.json()["days"][-1]["size"] == 1
    assert client.get("/v1/segments/nope/members", headers=ADMIN).status_code == 404
    r = client.delete("/v1/segments/whales", headers=ADMIN)
    assert r.json() == {"name": "whales", "left": 1}


def test_customer_groups_over_http(client: TestClient) -> None:
    client.post("/v1/batch", auth=WRITE, json={"batch": [
        track("Order Completed", user=f"u{i}", mid=f"g{i}", revenue=10 * (i + 1))
        for i in range(6)]})
    r = client.get("/v1/customers/groups?k=2", headers=ADMIN)
    assert r.status_code == 200 and sum(g["size"] for g in r.json()) == 6
    assert client.get("/v1/customers/groups?k=20", headers=ADMIN).status_code == 400
