"""The privacy routes over HTTP: who may call them, erase, export, suppress and lift, the
journal, and what a write key learns about a suppressed person (nothing)."""

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
DPO = {"Authorization": "Bearer dpo"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    s = Settings(write_keys=("wk",), admin_keys=("admin",), privacy_keys=("dpo",))
    worker = EngineWorker(Engine(MemoryStore(), settings=s, clock=ManualClock(T0))).start()
    c = TestClient(create_app(worker, s))
    yield c
    worker.stop()


def _send(client: TestClient, *events: dict[str, object]) -> dict[str, object]:
    r = client.post("/v1/batch", json={"batch": list(events)}, auth=WRITE)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_only_privacy_and_admin_keys_in_the_header_reach_the_routes(client: TestClient) -> None:
    body = {"identifier": "u1"}
    assert client.post("/v1/privacy/export", json=body, auth=WRITE).status_code == 401
    assert client.post("/v1/privacy/erase", json=body).status_code == 401
    assert client.get("/v1/privacy/log", headers={"Authorization": "Bearer nope"}
                      ).status_code == 401
    assert client.get("/v1/privacy/log", headers=DPO).status_code == 200
    assert client.get("/v1/privacy/log", headers=ADMIN).status_code == 200
    # a privacy key is for the privacy routes alone
    assert client.get("/v1/profiles/u1", headers=DPO).status_code == 401


def test_a_body_without_an_identifier_names_the_field(client: TestClient) -> None:
    r = client.post("/v1/privacy/erase", json={"identifier": ""}, headers=DPO)
    assert r.status_code in (400, 422) and "identifier" in r.text
    r = client.post("/v1/privacy/export", json={"identifier": "x" * 513}, headers=DPO)
    assert r.status_code in (400, 422) and "identifier" in r.text


def test_export_erase_and_what_comes_after(client: TestClient) -> None:
    _send(client, track("Product Viewed", anon="a1", mid="m1"),
          {"type": "identify", "userId": "u1", "anonymousId": "a1", "messageId": "m2",
           "timestamp": T0, "traits": {"email": "Eve@example.org"}},
          track("Product Viewed", user="u2", mid="m3"))
    r = client.post("/v1/privacy/export", json={"identifier": "eve@example.org"}, headers=DPO)
    assert r.status_code == 200
    assert sorted(e["messageId"] for e in r.json()["events"]) == ["m1", "m2"]

    r = client.post("/v1/privacy/erase", json={"identifier": "u1"}, headers=DPO)
    assert r.status_code == 200 and r.json()["events"] == 2 and r.json()["found"]
    assert client.get("/v1/profiles/u1", headers=ADMIN).status_code == 404
    assert client.get("/v1/profiles/u2", headers=ADMIN).status_code == 200
    assert client.post("/v1/privacy/export", json={"identifier": "u1"},
                       headers=DPO).status_code == 404

    # The write key's holder sees an accepted event; the event is dropped and counted.
    assert _send(client, track("Product Viewed", anon="a1", mid="m4")) == {
        "success": True, "accepted": 1, "duplicates": 0}
    assert client.get("/v1/profiles/a1", headers=ADMIN).status_code == 404
    log = client.get("/v1/privacy/log", headers=ADMIN).json()
    assert log["suppressed_events"] == 1
    assert [r["verb"] for r in log["requests"]] == ["erase", "export"]
    assert all(r["actor"].startswith("privacy-key:") for r in log["requests"])
    assert "u1" not in str(log) and "eve@" not in str(log).lower()


def test_suppress_and_lift_over_http(client: TestClient) -> None:
    r = client.post("/v1/privacy/suppress", json={"identifier": "u9"}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["suppressed"] >= 1
    _send(client, track("A", user="u9", mid="x1"))
    assert client.get("/v1/profiles/u9", headers=ADMIN).status_code == 404
    r = client.post("/v1/privacy/unsuppress", json={"identifier": "u9"}, headers=ADMIN)
    assert r.json()["lifted"] >= 1
    _send(client, track("A", user="u9", mid="x2"))
    assert client.get("/v1/profiles/u9", headers=ADMIN).status_code == 200


def test_segment_members_can_be_listed_under_pseudonyms(client: TestClient) -> None:
    assert client.put("/v1/segments/active", json={"text": "events >= 1"},
                      headers=ADMIN).status_code == 200
    _send(client, *[track("Product Viewed", user=f"u{i}", mid=f"p{i}") for i in range(5)])
    plain = client.get("/v1/segments/active/members", headers=ADMIN).json()["members"]
    ids = sorted(m["profile_id"] for m in plain)
    assert ids == [f"u{i}" for i in range(5)]
    url = "/v1/segments/active/members?pseudonymous=true"
    first = client.get(url, headers=ADMIN).json()["members"]
    again = client.get(url, headers=ADMIN).json()["members"]
    names = sorted(m["pseudonym"] for m in first)
    assert names == sorted(m["pseudonym"] for m in again)  # stable: joins across exports
    assert len(set(names)) == 5 and all(n.startswith("ps_") for n in names)
    assert not any(i in n for n in names for i in ids)
    csv_text = client.get(url + "&format=csv", headers=ADMIN).text
    assert csv_text.splitlines()[0] == "pseudonym,since" and "u1" not in csv_text
