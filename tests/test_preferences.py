"""Consent per purpose: the preference center a message's link opens (no login, in the
customer's language), the event a change becomes, and the one rule every use reads: sends,
recommendations, offers and analytics jobs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import T0
from intently import Engine, ManualClock, Settings
from intently.api import create_app
from intently.engine import EngineWorker, analysable
from intently.profiles import Profile, permits
from intently.scenarios import Scenario
from intently.store import MemoryStore

WRITE = ("wk", "")
ADMIN = {"Authorization": "Bearer admin"}


def _scenario(name: str, trigger: str) -> dict[str, Any]:
    return {"name": name, "trigger": {"event": trigger}, "holdout": 0,
            "policies": {"quiet_hours": None},
            "steps": [{"send": {"channel": "email", "subject": "Hi",
                                "body": "<p>Hello {{ customer.first_name }}</p>"}}]}


@pytest.fixture
def client() -> Iterator[TestClient]:
    s = Settings(write_keys=("wk",), admin_keys=("admin",))
    engine = Engine(MemoryStore(), settings=s, clock=ManualClock(T0))
    for name, trigger in (("first", "Pref Check"), ("second", "Pref Check Again")):
        engine.put_scenario(Scenario.from_dict(_scenario(name, trigger)))
    worker = EngineWorker(engine).start()
    yield TestClient(create_app(worker, s))
    worker.stop()


def _send(client: TestClient, *events: dict[str, Any]) -> None:
    assert client.post("/v1/batch", json={"batch": list(events)}, auth=WRITE).status_code == 200


def _link(client: TestClient, scenario: str) -> str:
    (msg,) = client.get(f"/v1/outbox?scenario={scenario}", headers=ADMIN).json()
    found = re.search(r"https?://[^/\s\"]+(/u/[^\s\"<]+)", msg["body"])
    assert found, msg["body"]
    return found.group(1)


def test_the_link_in_a_message_opens_the_preference_center_in_the_customers_language(
        client: TestClient) -> None:
    _send(client, {"type": "identify", "userId": "mei", "timestamp": T0,
                   "traits": {"email": "mei@example.cn", "first_name": "Mei", "locale": "zh-CN",
                              "consents": {"email": True}}},
          {"type": "track", "userId": "mei", "event": "Pref Check", "timestamp": T0 + 1})
    link = _link(client, "first")
    page = client.get(link).text
    assert "您的偏好设置" in page and 'lang=zh' in page
    assert re.search(r"name=email value=on checked", page)  # opted in
    assert re.search(r"name=personalization value=on checked", page)  # not objected to
    assert not re.search(r"name=sms value=on checked", page)  # never asked: opt-in needs a yes

    # turn email and analytics off, keep the rest
    form = {"form": "preferences", "personalization": "on", "offers": "on"}
    saved = client.post(link, data=form)
    assert saved.status_code == 200 and "已保存" in saved.text
    profile = client.get("/v1/profiles/mei?timeline=10", headers=ADMIN).json()
    assert profile["consents"]["email"] is False and profile["consents"]["analytics"] is False
    change = next(e for e in profile["timeline"] if e.get("event") == "Consent Updated")
    assert change["properties"]["source"] == "preference_center"
    assert change["properties"]["legal_basis"] == "consent"

    # the next send is suppressed, and the journal says why
    _send(client, {"type": "track", "userId": "mei", "event": "Pref Check Again",
                   "timestamp": T0 + 2})
    assert client.get("/v1/outbox?scenario=second", headers=ADMIN).json() == []
    journeys = client.get("/v1/dashboard/customers/mei", headers=ADMIN).json()["journeys"]
    assert any(j["kind"] == "suppressed" and j["ref"] == "no email consent" for j in journeys)


def test_other_languages_and_the_browsers_choice(client: TestClient) -> None:
    _send(client, {"type": "identify", "userId": "olga", "timestamp": T0,
                   "traits": {"email": "olga@example.ru", "consents": {"email": True}}},
          {"type": "track", "userId": "olga", "event": "Pref Check", "timestamp": T0 + 1})
    link = _link(client, "first")
    assert "Your preferences" in client.get(link).text  # no locale: English
    page = client.get(link, headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}).text
    assert "Ваши настройки" in page
    assert client.get(link[:-3] + "xyz").status_code == 400  # a forged link
    assert "Готово" in client.post(link, headers={"Accept-Language": "ru"},
                                   data={"List-Unsubscribe": "One-Click"}).text


def test_one_rule_reads_consent_for_every_purpose() -> None:
    p = Profile(id="p1")
    assert not permits(p, "email") and permits(p, "personalization") and permits(p, "offers")
    p.consents.update(email=True, analytics=False, personalization=False)
    assert permits(p, "email") and not permits(p, "analytics")
    assert not permits(p, "personalization") and not permits(None, "sms")

    engine = Engine(MemoryStore(), settings=Settings(), clock=ManualClock(T0))
    engine.process_many([
        {"type": "identify", "userId": "a", "timestamp": T0,
         "traits": {"consents": {"analytics": False, "personalization": False}}},
        {"type": "identify", "userId": "b", "timestamp": T0}])
    assert [q.id for q in analysable(engine)] == ["b"]  # analytics jobs skip who objected
    assert engine.recommend([], engine.profile("a")) == []  # no personalization
    engine.close()
