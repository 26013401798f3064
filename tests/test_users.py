"""Dashboard users: added by an admin, signed in with a name and password, let in where their
role's scope says; a change to the user or their removal ends their sessions; failed
sign-ins are throttled; the journal names each change and never holds a password."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import T0
from intently import Engine, ManualClock, Settings
from intently.api import create_app
from intently.engine import EngineWorker
from intently.store import MemoryStore

ADMIN = {"Authorization": "Bearer admin"}
ORIGIN = {"Origin": "http://testserver"}
PASSWORD = "a long enough passphrase"


@pytest.fixture
def app() -> Iterator[FastAPI]:
    s = Settings(admin_keys=("admin",), write_keys=("wk",))
    worker = EngineWorker(Engine(MemoryStore(), settings=s, clock=ManualClock(T0))).start()
    yield create_app(worker, s)
    worker.stop()


def _sign_in(app: FastAPI, name: str, password: str) -> tuple[TestClient, int]:
    client = TestClient(app, follow_redirects=False)
    return client, client.post("/login", data={"name": name, "key": password}).status_code


def test_a_user_signs_in_with_a_password_and_gets_their_roles_routes(app: FastAPI) -> None:
    http = TestClient(app)
    r = http.put("/v1/users/mia", json={"role": "viewer", "password": PASSWORD}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["role"] == "viewer"
    assert "password" not in json.dumps(http.get("/v1/users", headers=ADMIN).json())
    mia, status = _sign_in(app, "mia", PASSWORD)
    assert status == 303
    assert mia.get("/v1/segments").status_code == 200  # a viewer reads
    assert mia.put("/v1/segments/vip", json={"text": "orders >= 3"},
                   headers=ORIGIN).status_code == 403  # and changes nothing
    assert mia.get("/v1/users").status_code == 403  # users are the admins' business
    assert _sign_in(app, "mia", "not her password!")[1] == 401
    assert _sign_in(app, "nobody", PASSWORD)[1] == 401


def test_changing_or_removing_a_user_ends_their_sessions(app: FastAPI) -> None:
    http = TestClient(app)
    http.put("/v1/users/max", json={"role": "marketer", "password": PASSWORD}, headers=ADMIN)
    max_, _ = _sign_in(app, "max", PASSWORD)
    assert max_.put("/v1/segments/vip", json={"text": "orders >= 3"},
                    headers=ORIGIN).status_code == 200
    log = http.get("/v1/privacy/log", headers=ADMIN).json()["requests"]
    assert log[0]["verb"] == "segment.put" and log[0]["actor"] == "marketer-user:max"

    assert http.put("/v1/users/max", json={"role": "viewer"}, headers=ADMIN).status_code == 200
    assert max_.get("/v1/segments").status_code == 401  # the old session is over
    again, status = _sign_in(app, "max", PASSWORD)
    assert status == 303 and again.get("/v1/segments").status_code == 200
    assert again.put("/v1/segments/vip", json={"text": "orders >= 4"},
                     headers=ORIGIN).status_code == 403  # a viewer now

    assert http.delete("/v1/users/max", headers=ADMIN).status_code == 200
    assert again.get("/v1/segments").status_code == 401
    assert _sign_in(app, "max", PASSWORD)[1] == 401
    assert http.delete("/v1/users/max", headers=ADMIN).status_code == 404

    verbs = [(r["verb"], r["subject"]) for r in
             http.get("/v1/privacy/log", headers=ADMIN).json()["requests"]]
    assert verbs[:3] == [("user.delete", "max"), ("user.put", "max"), ("segment.put", "vip")]
    assert PASSWORD not in json.dumps(http.get("/v1/privacy/log", headers=ADMIN).json())
    assert "scrypt" not in json.dumps(http.get("/v1/privacy/log", headers=ADMIN).json())


def test_an_admin_user_manages_users_from_the_dashboard(app: FastAPI) -> None:
    http = TestClient(app)
    http.put("/v1/users/ada", json={"role": "admin", "password": PASSWORD}, headers=ADMIN)
    ada, _ = _sign_in(app, "ada", PASSWORD)
    assert ada.put("/v1/users/bo", json={"role": "viewer", "password": PASSWORD},
                   headers=ORIGIN).status_code == 200
    assert ada.put("/v1/users/bo", json={"role": "viewer", "password": PASSWORD},
                   headers={"Origin": "https://evil.example"}).status_code == 403
    assert [u["name"] for u in ada.get("/v1/users").json()] == ["ada", "bo"]


@pytest.mark.parametrize(("body", "path"), [
    ({"role": "owner", "password": PASSWORD}, "$.role"),
    ({"role": "viewer", "password": "short"}, "$.password"),
    ({"role": "viewer"}, "$.password"),
    ({"role": 3, "password": PASSWORD}, "$.role"),
    ({"role": "viewer", "password": PASSWORD, "extra": 1}, "$"),
])
def test_a_bad_user_is_refused_with_the_field_named(app: FastAPI, body: dict[str, object],
                                                    path: str) -> None:
    r = TestClient(app).put("/v1/users/zed", json=body, headers=ADMIN)
    assert r.status_code == 400 and path in r.json()["message"]


def test_a_bad_user_name_is_refused(app: FastAPI) -> None:
    r = TestClient(app).put("/v1/users/-x", json={"role": "viewer", "password": PASSWORD},
                            headers=ADMIN)
    assert r.status_code == 400 and "$.name" in r.json()["message"]


def test_failed_sign_ins_are_throttled_per_name(app: FastAPI) -> None:
    TestClient(app).put("/v1/users/eve", json={"role": "viewer", "password": PASSWORD},
                        headers=ADMIN)
    for _ in range(5):
        assert _sign_in(app, "eve", "a wrong guess, again")[1] == 401
    assert _sign_in(app, "eve", PASSWORD)[1] == 429  # even the right one, for a while
    assert _sign_in(app, "other", "a wrong guess, again")[1] == 401  # per name
