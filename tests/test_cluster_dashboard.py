"""The dashboard against a cluster: `intently serve --role dashboard` (a gateway that also
serves the dashboard, over a read-only engine on the union of the partitions) in front of a
worker on four partitions. Its reading routes show what the owners wrote, a change made from
the dashboard reaches every partition, and the pages work in Debian's chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import NatsServer, postgres_schema, running, wait_until
from intently.cluster import ClusterWorker
from intently.config import Settings
from intently.scenarios import ready_made
from intently.store.postgres import PostgresStore
from intently.testing import Shop, free_port, wait_healthy

pytestmark = pytest.mark.integration

KEY = "dash-key"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HEADERS = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def shop() -> list[dict[str, Any]]:
    return list(Shop(users=60, days=4, seed=21).events())


@pytest.fixture
def cluster(nats_server: NatsServer, shop: list[dict[str, Any]]) -> Iterator[str]:
    """The dashboard's address; a worker applies the shop's events, posted through it."""
    with postgres_schema() as url:
        settings = Settings(db=url, stream=nats_server.url, partitions=4, lease_seconds=3.0,
                            checkpoint_seconds=0.5, write_keys=(KEY,), admin_keys=(KEY,),
                            builtin_segments=True)
        shared = PostgresStore(url, writer_lock=False)  # the scenarios every partition runs
        for scenario in ready_made().values():
            shared.save_scenario(scenario.name, json.dumps(scenario.to_json()).encode())
        shared.close()
        port = free_port()
        env = {**os.environ, "INTENTLY_DB": url, "INTENTLY_STREAM": nats_server.url,
               "INTENTLY_PARTITIONS": "4", "INTENTLY_WRITE_KEYS": KEY,
               "INTENTLY_ADMIN_KEYS": KEY, "INTENTLY_BUILTIN_SEGMENTS": "true",
               "INTENTLY_LOG_LEVEL": "warning"}
        proc = wait_healthy(subprocess.Popen(
            [sys.executable, "-m", "intently", "serve", "--role", "dashboard", "--port",
             str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE),
            port, "the dashboard gateway")
        base = f"http://127.0.0.1:{port}"
        worker = ClusterWorker(settings, name="w-dash")
        try:
            with running(worker), httpx.Client(base_url=base, timeout=30) as http:
                for i in range(0, len(shop), 200):
                    r = http.post("/v1/batch", json={"batch": shop[i : i + 200]},
                                  auth=(KEY, ""))
                    assert r.status_code == 200, r.text
                wait_until(lambda: worker.applied == len(shop), 60, "the worker fell short")
                yield base
        finally:
            proc.terminate()
            proc.wait(30)


def _json(http: httpx.Client, path: str) -> Any:
    r = http.get(path, headers=HEADERS)
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
    return r.json()


def test_the_reading_routes_show_the_whole_cluster(cluster: str,
                                                   shop: list[dict[str, Any]]) -> None:
    with httpx.Client(base_url=cluster, timeout=30) as http:
        customers = len({ev["anonymousId"] for ev in shop if ev.get("anonymousId")})
        wait_until(lambda: _json(http, "/v1/dashboard/overview")["customers"] == customers,
                   30, "the dashboard never showed every customer")
        overview = _json(http, "/v1/dashboard/overview")
        assert overview["events_stored"] == len(shop)
        assert sum(overview["segments"].values()) > 0  # built-in segments, every partition

        # one customer, with every event of theirs, wherever the partition
        events = Counter(ev["userId"] for ev in shop if ev.get("userId"))
        who, count = events.most_common(1)[0]
        wait_until(lambda: _json(http, f"/v1/profiles/{who}")["aggregates"]["events"]
                   >= count, 30, "their record was not written")
        profile = _json(http, f"/v1/profiles/{who}?timeline=500")
        assert len(profile["timeline"]) >= count
        assert _json(http, f"/v1/dashboard/customers/{who}")["lifecycle"]
        assert _json(http, "/v1/dashboard/feed?limit=10")["customers"]
        sent = _json(http, "/v1/outbox?limit=500")
        assert sent  # the ready-made scenarios' messages, from the partitions' outboxes
        assert [s["name"] for s in _json(http, "/v1/scenarios")]

        # the links in a message work: its open pixel, and a one-click unsubscribe, which
        # reaches the customer's partition and shows on their record
        email = next(m for m in sent if m["channel"] == "email" and "/u/" in m["body"])
        to = email["customer"]
        assert _json(http, f"/v1/profiles/{to}")["consents"].get("email") is not False
        pixel = re.search(r'src="https?://[^/"]+(/t/o/[^"]+)"', email["body"])
        assert pixel, email["body"]
        assert http.get(pixel.group(1)).headers["content-type"] == "image/gif"
        unsubscribe = re.search(r'href="https?://[^/"]+(/u/[^"]+)"', email["body"])
        assert unsubscribe, email["body"]
        assert http.post(unsubscribe.group(1)).status_code == 200
        wait_until(lambda: _json(http, f"/v1/profiles/{to}")["consents"].get("email")
                   is False, 30, "the unsubscribe never reached the record")
        events = [e.get("event") for e in _json(http, f"/v1/profiles/{to}?timeline=500")[
            "timeline"]]
        assert "Email Opened" in events and "Unsubscribed" in events

        # a segment made from the dashboard's API reaches every partition's owner
        r = http.put("/v1/segments/regulars", headers=HEADERS,
                     json={"text": "events >= 2"})
        assert r.status_code == 202, r.text  # accepted: each owner applies it in order
        wait_until(lambda: next((s for s in _json(http, "/v1/segments")
                                 if s["name"] == "regulars"), {}).get("size", 0) > 10, 30,
                   "the new segment never filled")
        assert http.get("/v1/dashboard/overview").status_code == 401  # nothing anonymous


@pytest.mark.browser
def test_the_pages_work_against_a_cluster(cluster: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.set_default_timeout(20_000)
        page.goto(cluster + "/")
        page.fill("#key", KEY)
        page.click("button[type=submit]")
        page.wait_for_selector("#stats .stat")
        page.goto(cluster + "/#/live")
        page.wait_for_selector("#feed tr.click")
        page.click("#feed tr.click td:nth-child(2)")
        page.wait_for_selector("#p-chain .chip")
        page.goto(cluster + "/#/segments")
        page.wait_for_selector("#seg-form")
        page.fill("#seg-name", "carts")
        page.fill("#seg-rule", "cart_value >= 1")
        page.locator("#seg-check .ok").wait_for()
        page.click("#seg-form button[type=submit]")  # the session's change, to every owner
        page.locator("#seg-saved", has_text="Saved").wait_for()
        for hash_, marker in (("#/clusters", ".cluster"), ("#/scenarios", "tr[data-name]"),
                              ("#/scenarios/welcome_series", "text=Funnel")):
            page.goto(cluster + "/" + hash_)
            page.wait_for_selector(marker)
        browser.close()
