"""The official JavaScript libraries as clients: Segment's and RudderStack's Node libraries, and
Segment's browser library (analytics-next) in headless Chromium on a page of another origin,
each with its default settings, against a real `intently serve`. `make test` installs them
from `tests/sdk/package-lock.json` (`npm ci`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from intently.testing import free_port, start_server

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SDK = Path(__file__).parent / "sdk"
MODULES = SDK / "node_modules"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ADMIN = {"Authorization": "Bearer wk"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not (MODULES / "@segment" / "analytics-node").exists():
        pytest.fail("the JavaScript libraries are missing: `make test` installs them "
                    "(cd tests/sdk && npm ci)")
    port = free_port()
    proc = start_server(tmp_path_factory.mktemp("js") / "js.db", port, "wk")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


def profile(base: str, identifier: str) -> dict[str, Any]:
    r = httpx.get(f"{base}/v1/profiles/{identifier}", headers=ADMIN, timeout=10)
    assert r.status_code == 200, (identifier, r.text)
    return r.json()  # type: ignore[no-any-return]


def test_the_node_libraries_land_every_call(server: str) -> None:
    done = subprocess.run(["node", str(SDK / "node_clients.mjs"), server, "wk"], cwd=SDK,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"errors": []}
    p = profile(server, "node-anon")  # the anonymous visitor merged into the customer
    assert p["user_id"] == "node-user" and p["traits"]["name"] == "Nia"
    assert profile(server, "node@shop.test")["id"] == p["id"] == profile(server, "node-old")["id"]
    assert p["aggregates"]["events"] == 6 and p["aggregates"]["revenue"] == 12.0
    assert "Acme Inc" not in json.dumps(p["traits"])
    rs = profile(server, "rs-node@shop.test")  # gzip and context.traits, RudderStack's way
    assert rs["id"] == profile(server, "rs-node")["id"] and rs["traits"]["plan"] == "gold"


PAGE = """<!doctype html><meta charset="utf-8"><title>shop</title>
<script src="/index.js"></script>
<script>
window.sent = (async () => {
  const [analytics] = await AnalyticsNext.AnalyticsBrowser.load({
    writeKey: "wk",
    cdnSettings: {integrations: {"Segment.io": {apiKey: "wk", apiHost: "API/v1",
                                                protocol: "http"}}},
  });
  const calls = [await analytics.page("Home"),
                 await analytics.track("Product Viewed", {price: 7}),
                 await analytics.identify("web-user", {email: "web@shop.test"})];
  const failed = calls.map((ctx) => ctx.failedDelivery()).filter(Boolean)
    .map((f) => String(f.reason));
  return {anonymous: analytics.user().anonymousId(), failed};
})();
</script>"""


@pytest.fixture(scope="module")
def shop(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The shop's own site on another origin, serving the page and the library's bundles."""
    root = tmp_path_factory.mktemp("site") / "site"
    shutil.copytree(MODULES / "@segment" / "analytics-next" / "dist" / "umd", root)
    (root / "index.html").write_text(PAGE.replace("API", server.removeprefix("http://")))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                partial(SimpleHTTPRequestHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_the_browser_library_sends_from_another_origin(server: str, shop: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(shop + "/")
            sent = page.evaluate("window.sent")
        finally:
            browser.close()
    assert sent["failed"] == []  # the library read every answer (CORS)
    p = profile(server, sent["anonymous"])
    assert p["user_id"] == "web-user" and profile(server, "web@shop.test")["id"] == p["id"]
    assert p["aggregates"]["events"] == 3
