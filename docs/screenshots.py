"""Screenshots of the dashboard for the README: `make screenshots`.

Builds a store from the simulator (built-in segments, the ready-made scenarios, RFM, mined
basket rules), starts `intently serve` on it, keeps events flowing, and has Debian's chromium
(through Playwright) photograph each page into docs/."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from intently import Engine, ManualClock, Settings
from intently.events import parse_timestamp
from intently.scenarios import ready_made
from intently.testing import Shop, free_port, start_server

KEY = "shots"
OUT = Path(__file__).parent
CHROMIUM = "/usr/bin/chromium"


def build(db: Path) -> tuple[list[dict], float]:
    shop = Shop(users=1500, days=14, seed=3, start=time.time() - 14 * 86400)
    events = list(shop.events())
    cut = int(len(events) * 0.97)
    engine = Engine(db, settings=Settings(db=str(db), builtin_segments=True),
                    clock=ManualClock(parse_timestamp(events[cut - 1]["timestamp"])))
    for s in ready_made().values():
        engine.put_scenario(s)
    engine.process_many(events[:cut])
    engine.close()
    env = {**os.environ, "INTENTLY_DB": str(db)}
    for cmd in (["rfm", "update"], ["rules", "mine", "--min-support", "0.002", "--save"]):
        subprocess.run([sys.executable, "-m", "intently", *cmd], env=env, check=True,
                       capture_output=True)
    return events[cut:], parse_timestamp(events[cut]["timestamp"])


def feed(url: str, events: list[dict], stop: threading.Event) -> None:
    with httpx.Client(auth=(KEY, ""), timeout=10) as http:
        for i in range(0, len(events), 20):
            if stop.is_set():
                return
            http.post(url + "/v1/batch", json={"batch": events[i : i + 20]})
            time.sleep(0.3)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "shots.db"
        rest, _ = build(db)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(db, port, KEY, builtin_segments="true", base_url=url)
        stop = threading.Event()
        feeder = threading.Thread(target=feed, args=(url, rest, stop), daemon=True)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1360, "height": 900})
                page.goto(url + "/")
                page.fill("#key", KEY)
                page.click("button[type=submit]")
                page.wait_for_selector("#stats .stat")
                feeder.start()
                time.sleep(3)
                page.screenshot(path=OUT / "overview.png", full_page=True)
                page.goto(url + "/#/live")
                page.wait_for_selector("#feed tr.click")
                time.sleep(4)
                page.screenshot(path=OUT / "live.png")
                who = page.locator("#feed tr.click").first.get_attribute("data-id")
                page.goto(url + f"/#/customer/{who}")
                page.wait_for_selector("#p-chain .chip")
                page.screenshot(path=OUT / "customer.png", full_page=True)
                page.goto(url + "/#/segments/cart%20abandoners")
                page.wait_for_selector("#seg-form")
                page.screenshot(path=OUT / "segment.png", full_page=True)
                page.goto(url + "/#/clusters")
                page.wait_for_selector(".cluster")
                page.screenshot(path=OUT / "clusters.png", full_page=True)
                page.goto(url + "/#/scenarios/abandoned_cart")
                page.wait_for_selector("text=Funnel")
                page.screenshot(path=OUT / "scenario.png", full_page=True)
                phone = browser.new_page(viewport={"width": 390, "height": 844},
                                         device_scale_factor=2)
                phone.context.add_cookies(page.context.cookies())
                phone.goto(url + "/#/live")
                phone.wait_for_selector("#feed tr.click")
                time.sleep(2)
                phone.screenshot(path=OUT / "live-phone.png")
                browser.close()
        finally:
            stop.set()
            proc.terminate()
            proc.wait(timeout=30)
    print("screenshots in", OUT)


if __name__ == "__main__":
    main()
