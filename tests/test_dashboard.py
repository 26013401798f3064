"""The dashboard in a real browser: Playwright drives Debian's headless chromium against a real
`intently serve` process. Login, the live feed updating as events arrive, a profile with its
chain and key action, and a segment created after an invalid rule showed its error."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from intently import Engine, ManualClock
from intently.scenarios import ready_made
from intently.testing import Shop, free_port, start_server

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
KEY = "dash-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("dash") / "dash.db"
    shop = Shop(users=120, days=5, seed=12)
    events = list(shop.events())
    engine = Engine(db, clock=ManualClock(shop.start + 5 * 86400))
    for s in ready_made().values():
        engine.put_scenario(s)
    engine.process_many(events)
    engine.close()
    port = free_port()
    proc = start_server(db, port, KEY, base_url=f"http://127.0.0.1:{port}")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it "
                    "(apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    p = context.new_page()
    p.set_default_timeout(15_000)
    p.goto(server + "/")
    p.fill("#key", KEY)
    p.click("button[type=submit]")
    p.wait_for_selector("#stats .stat")
    yield p
    context.close()


def test_nothing_is_served_anonymously(browser: Any, server: str) -> None:
    assert httpx.get(server + "/", follow_redirects=False).headers["location"] == "/login"
    assert httpx.get(server + "/static/app.js").status_code == 401
    assert httpx.get(server + "/v1/dashboard/overview").status_code == 401
    p = browser.new_page()
    p.goto(server + "/")
    p.fill("#key", "wrong")
    p.click("button[type=submit]")
    assert "not an admin, marketer or viewer key" in p.inner_text("form")
    p.close()


def test_a_dashboard_user_signs_in_with_name_and_password(browser: Any, server: str) -> None:
    with httpx.Client(timeout=10) as http:
        r = http.put(server + "/v1/users/vera", headers={"Authorization": f"Bearer {KEY}"},
                     json={"role": "viewer", "password": "vera's long passphrase"})
        assert r.status_code == 200
    context = browser.new_context()
    p = context.new_page()
    p.set_default_timeout(15_000)
    p.goto(server + "/")
    p.fill("#name", "vera")
    p.fill("#key", "not vera's passphrase")
    p.click("button[type=submit]")
    assert "unknown user name or wrong password" in p.inner_text("form")
    p.fill("#name", "vera")
    p.fill("#key", "vera's long passphrase")
    p.click("button[type=submit]")
    p.wait_for_selector("#stats .stat")
    # a viewer's session reads, and the server refuses it a change
    status = p.evaluate("""() => fetch('/v1/segments/x', {method: 'PUT',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify({text: 'orders >= 1'})}).then(r => r.status)""")
    assert status == 403
    context.close()


def test_an_admin_manages_users_and_reads_the_audit_journal(page: Any, server: str) -> None:
    page.goto(server + "/#/admin")
    page.wait_for_selector("#user-add")
    page.fill("#user-name", "wes")
    page.select_option("#user-role", "marketer")
    page.fill("#user-password", "wes's long passphrase")
    page.click("#user-add button[type=submit]")
    row = page.locator("#users tr[data-name=wes]")
    row.wait_for()
    assert row.locator("select").input_value() == "marketer"
    page.locator("#audit tr", has_text="user.put").first.wait_for()
    row.locator("select").select_option("viewer")
    page.wait_for_function("""() => [...document.querySelectorAll('#audit tr')]
        .filter((r) => r.textContent.includes('user.put')).length >= 2""")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#users tr[data-name=wes] .user-remove").click()
    page.locator("#audit tr", has_text="user.delete").first.wait_for()
    assert page.locator("#users tr[data-name=wes]").count() == 0
    with httpx.Client(timeout=10) as http:
        csv = http.get(server + "/v1/audit?format=csv",
                       headers={"Authorization": f"Bearer {KEY}"})
    assert csv.status_code == 200 and csv.text.startswith("at,verb,subject,actor")
    assert "user.delete,wes,admin-session:" in csv.text
    assert "passphrase" not in csv.text and "scrypt" not in csv.text


def test_live_feed_updates_when_events_arrive(page: Any, server: str) -> None:
    page.goto(server + "/#/live")
    page.wait_for_selector("#feed tr.click")
    page.wait_for_selector("#status.on")
    with httpx.Client(auth=(KEY, ""), timeout=10) as http:
        r = http.post(server + "/v1/batch", json={"batch": [
            {"type": "identify", "userId": "live-ann", "traits": {"name": "Ann Live",
                                                                 "email": "ann@live.test"}},
            {"type": "track", "userId": "live-ann", "event": "Product Viewed",
             "properties": {"product_id": "p1", "price": 120, "category": "shoes"}},
            {"type": "track", "userId": "live-ann", "event": "Product Added",
             "properties": {"product_id": "p1", "price": 120, "category": "shoes"}}]})
        assert r.status_code == 200
    row = page.locator("#feed tr", has_text="Ann Live")
    row.wait_for()  # arrives over server-sent events: no reload
    assert "added_to_cart" in row.inner_text()
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_profile_shows_the_chain_and_the_key_action(page: Any, server: str) -> None:
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}) as http:
        feed = http.get(server + "/v1/dashboard/feed?limit=200").json()["customers"]
    who = next(c for c in feed if c["key_action"] and len(c["chain"]) >= 3)
    page.goto(server + "/#/live")
    page.click(f"#feed tr[data-id='{who['id']}'] td:nth-child(2)")
    page.wait_for_selector("#p-chain .chip")
    assert page.url.endswith(f"#/customer/{who['id']}")
    assert page.inner_text("#p-key") == who["key_action"]
    assert page.locator("#p-chain .chip.key").count() == 1
    assert who["key_action"] in page.inner_text("#p-chain .chip.key")
    assert page.locator("svg circle").count() >= 2  # the probability over time


def test_a_segment_is_created_and_an_invalid_rule_shows_its_error(page: Any, server: str
                                                                   ) -> None:
    page.goto(server + "/#/segments")
    page.wait_for_selector("#seg-form")
    page.fill("#seg-name", "big carts")
    page.fill("#seg-rule", "cart_value >= ")
    error = page.locator("#seg-check .error")
    error.wait_for()
    assert "position 14" in error.inner_text()
    page.click("#seg-form button[type=submit]")
    assert "position 14" in page.inner_text("#seg-check")
    page.fill("#seg-rule", "cart_value >= 100")
    page.locator("#seg-check .ok").wait_for()
    page.click("#seg-form button[type=submit]")
    page.locator("#seg-saved", has_text="Saved").wait_for()
    page.locator("#seg-list tr", has_text="big carts").wait_for()


def test_every_page_renders(page: Any, server: str) -> None:
    for hash_, marker in (("#/", "#keys"), ("#/clusters", ".cluster"),
                          ("#/scenarios", "tr[data-name]"),
                          ("#/scenarios/welcome_series", "text=Funnel")):
        page.goto(server + "/" + hash_)
        page.wait_for_selector(marker)
        assert "error" not in (page.locator("main > .card.error").all_inner_texts() or [""])[0]


def test_chromium_is_debians() -> None:
    out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout
    assert "Chromium" in out


def test_the_preference_center_from_a_message_turns_a_purpose_off(browser: Any,
                                                                   server: str) -> None:
    """Open the link in a sent message, turn email off, and the next send is suppressed."""
    admin = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=server, headers=admin) as http:
        for name, trigger in (("pref_first", "Pref Check"), ("pref_second", "Pref Again")):
            spec = {"name": name, "trigger": {"event": trigger}, "holdout": 0,
                    "policies": {"quiet_hours": None},
                    "steps": [{"send": {"channel": "email", "subject": "Hi",
                                        "body": "<p>Hello {{ customer.first_name }}</p>"}}]}
            assert http.put(f"/v1/scenarios/{name}", json=spec).status_code == 200
        batch = [{"type": "identify", "userId": "pref-ru", "traits": {
                     "email": "pref@example.ru", "first_name": "Olga", "locale": "ru",
                     "consents": {"email": True}}},
                 {"type": "track", "userId": "pref-ru", "event": "Pref Check"}]
        assert http.post("/v1/batch", json={"batch": batch},
                         auth=(KEY, "")).status_code == 200
        (msg,) = http.get("/v1/outbox?scenario=pref_first").json()
        link = re.search(r'href="(http[^"]+/u/[^"]+)"', msg["body"])
        assert link, msg["body"]
        page = browser.new_page()
        page.goto(link.group(1))
        assert page.inner_text("h1") == "Ваши настройки"
        assert page.is_checked("input[name=email]")
        page.uncheck("input[name=email]")
        page.click("button[type=submit]")
        page.locator("[role=status]", has_text="Сохранено").wait_for()
        page.close()
        again = [{"type": "track", "userId": "pref-ru", "event": "Pref Again"}]
        assert http.post("/v1/batch", json={"batch": again},
                         auth=(KEY, "")).status_code == 200
        assert http.get("/v1/outbox?scenario=pref_second").json() == []
        journeys = http.get("/v1/dashboard/customers/pref-ru").json()["journeys"]
        assert any(j["kind"] == "suppressed" and j["ref"] == "no email consent"
                   for j in journeys)
        assert http.get("/v1/profiles/pref-ru").json()["consents"]["email"] is False


def test_a_customer_is_exported_and_erased_from_their_page(page: Any, server: str) -> None:
    admin = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(headers=admin) as http:
        feed = http.get(server + "/v1/dashboard/feed?limit=200").json()["customers"]
        who = feed[-1]["id"]
        events = http.get(f"{server}/v1/profiles/{who}?timeline=0").json()["aggregates"]["events"]
    page.goto(f"{server}/#/customer/{who}")
    page.wait_for_selector("#privacy")
    result = page.locator("#privacy-result")
    page.fill("#privacy-key", "wrong")
    page.click("#privacy-export")
    result.locator(".error").wait_for()
    assert "unknown key" in result.inner_text()
    page.fill("#privacy-key", KEY)
    with page.expect_download() as download:
        page.click("#privacy-export")
    bundle = json.loads(Path(download.value.path()).read_text())
    assert bundle["customer"]["id"] == who and len(bundle["events"]) == events
    page.click("#privacy-erase")  # not confirmed yet
    assert "Type the customer's id" in result.inner_text()
    page.fill("#privacy-confirm", who)
    page.click("#privacy-erase")
    result.locator(".ok", has_text="Erased").wait_for()
    assert f"{events} events" in result.inner_text()
    with httpx.Client(headers=admin) as http:
        assert http.get(f"{server}/v1/profiles/{who}").status_code == 404
        log = http.get(server + "/v1/privacy/log").json()["requests"]
    assert [r["verb"] for r in log[:2]] == ["erase", "export"]
