"""Scenarios and decisions: event-to-outbox latency in the embedded engine (fsync on), the
cost of one message's content next to plain Jinja's, in-process offer decisions per second, and
POST /v1/decide over HTTP against `intently serve` in its own process: alone, and from one till
while a flood of batches comes in (`_flood`, from another process)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2

from .._threads import cpython_switching
from ..decisions import Decider, OfferRule, save_offer_rules
from ..engine import Engine, as_event
from ..profiles import Profile
from ..scenarios import Renderer, Scenario, Tracker, ready_made
from ..store import open_store
from ..testing import Shop, free_port, start_server
from ._client import KEY, connect, post
from ._wrk import latency_ms, requests_per_s, run_wrk

ITEMS = [f"item{i:03d}" for i in range(170)]  # a Groceries-sized catalog


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _offer_rules(n: int = 500, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rules = [{"when": ["champagne", "candy"], "offer": "flowers", "discount": 20,
              "partner": "Bloom & Co", "priority": 10}]
    for i in range(n):
        when = rng.sample(ITEMS, rng.choice((1, 2, 2, 3)))
        rules.append({"name": f"r{i}", "when": when, "offer": rng.choice(ITEMS),
                      "discount": rng.choice((5, 10, 15)), "priority": rng.randint(0, 5)})
    return rules


def _baskets(n: int, seed: int = 5) -> list[list[str]]:
    rng = random.Random(seed)
    return [rng.sample(ITEMS, rng.randint(3, 15)) for _ in range(n)]


def event_to_outbox(events: int = 3000) -> dict[str, Any]:
    every = Scenario.from_dict({
        "name": "every_cart", "trigger": {"event": "added_to_cart"}, "holdout": 0.1,
        "policies": {"quiet_hours": None, "consent": False},
        "steps": [{"send": {"channel": "email", "subject": "Your cart",
                            "template": "cart_reminder"}}]})
    shop = Shop(users=max(200, events // 8), days=3, seed=21)
    stream = [as_event(e) for e in shop.events()][:events]
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Path(tmp) / "e2o.db")
        for s in (*ready_made().values(), every):
            engine.put_scenario(s)
        latencies = []
        for ev in stream:
            before = engine.messages_queued
            started = time.perf_counter()
            engine.process(ev)  # returns after the group commit (fsync) with the outbox rows
            took = time.perf_counter() - started
            if engine.messages_queued > before:
                latencies.append(took * 1000.0)
        engine.close()
    return {"event_to_outbox_p50_ms": round(_pct(latencies, 0.5), 3),
            "event_to_outbox_p99_ms": round(_pct(latencies, 0.99), 3),
            "event_to_outbox_messages": len(latencies)}


def decisions_in_process(n: int = 50_000) -> dict[str, Any]:
    decider = Decider([OfferRule.from_dict(r) for r in _offer_rules()])
    baskets = _baskets(n)
    started = time.perf_counter()
    offered = 0
    for i, basket in enumerate(baskets):
        offered += len(decider.decide(basket, None, 1.0e9 + i, customer=f"c{i}")["offers"])
    elapsed = time.perf_counter() - started
    return {"decisions_per_s": round(n / elapsed), "decision_offer_rate": round(offered / n, 3)}


_WRK_SCRIPT = """
local baskets = {%s}
local n = 0
request = function()
  n = n + 1
  local body = '{"userId":"c' .. n .. '","items":' .. baskets[(n %% #baskets) + 1] .. '}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer %s"}, body)
end
"""


def _wrk(url: str, baskets: list[list[str]], tmp: str, seconds: int, connections: int
         ) -> dict[str, Any]:
    # every request a different customer: the daily offer cap never answers for the engine
    bodies = ",".join("[=[" + json.dumps(b) + "]=]" for b in baskets[:2000])
    out = run_wrk(url, _WRK_SCRIPT % (bodies, KEY), Path(tmp), seconds, connections)
    return {"decide_http_receipts_per_s": round(requests_per_s(out)),
            "decide_http_p50_ms": round(latency_ms(out, "50%"), 2),
            "decide_http_p99_ms": round(latency_ms(out, "99%"), 2),
            "decide_http_client": f"wrk, {connections} connections"}


@contextmanager
def _decision_server() -> Iterator[tuple[int, str]]:
    """`intently serve` on a store holding the bench's offer rules: its port, and a folder
    for the run's files."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "decide.db"
        store = open_store(db)
        save_offer_rules(store, _offer_rules())
        store.close()
        proc = start_server(db, port, KEY)
        try:
            yield port, tmp
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def decide_http(requests: int = 6000, clients: int = 4) -> dict[str, Any]:
    baskets = _baskets(requests, seed=9)
    with _decision_server() as (port, tmp):
        if shutil.which("wrk"):
            return _wrk(f"http://127.0.0.1:{port}/v1/decide", baskets, tmp,
                        max(3, requests // 1500), 8)
        latencies: list[float] = []

        def run(part: list[list[str]]) -> None:
            tag = id(part)
            connection = connect("127.0.0.1", port, 30.0)
            try:
                for i, basket in enumerate(part):
                    started = time.perf_counter()
                    post(connection, "/v1/decide",
                         json.dumps({"userId": f"c{tag}-{i}", "items": basket}))
                    latencies.append((time.perf_counter() - started) * 1000.0)
            finally:
                connection.close()

        parts = [baskets[i::clients] for i in range(clients)]
        run(baskets[:200])  # warm up
        latencies.clear()
        with cpython_switching():
            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(run, parts))
            elapsed = time.perf_counter() - started
    return {"decide_http_receipts_per_s": round(requests / elapsed),
            "decide_http_p50_ms": round(_pct(latencies, 0.5), 2),
            "decide_http_p99_ms": round(_pct(latencies, 0.99), 2),
            "decide_http_client": f"http.client, {clients} threads (install Debian's wrk for a "
                                  "load generator that leaves the cores to the server)"}


FLOOD_HEAD_START_S = 1.0
"""How long the flood of batches runs before the till starts asking."""


def decide_under_ingest(seconds: int = 3) -> dict[str, Any]:
    """`POST /v1/decide` from one till (one connection, a named customer a receipt) while
    eight clients in another process post batches of 100 events: the latency of a decision
    at a shop's busiest moment, and the events/s the flood got meanwhile."""
    baskets = _baskets(2000, seed=9)
    with _decision_server() as (port, tmp):
        flood = subprocess.Popen(
            [sys.executable, "-m", "intently.benchmarks._flood", str(port),
             str(seconds + 2 * FLOOD_HEAD_START_S)], stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(FLOOD_HEAD_START_S)  # the flood under way (its data made, posting)
            if shutil.which("wrk"):
                out = _wrk(f"http://127.0.0.1:{port}/v1/decide", baskets, tmp, seconds, 1)
                p50, p99 = out["decide_http_p50_ms"], out["decide_http_p99_ms"]
                rate = out["decide_http_receipts_per_s"]
            else:
                latencies = _till(port, baskets, seconds)
                p50, p99 = _pct(latencies, 0.5), _pct(latencies, 0.99)
                rate = len(latencies) / seconds
            ingested = float(flood.communicate(timeout=120)[0].strip() or 0)
        finally:
            if flood.poll() is None:
                flood.kill()
                flood.wait()
    return {"decide_under_ingest_p50_ms": round(p50, 2),
            "decide_under_ingest_p99_ms": round(p99, 2),
            "decide_under_ingest_receipts_per_s": round(rate),
            "decide_under_ingest_events_per_s": round(ingested)}


def _till(port: int, baskets: list[list[str]], seconds: float) -> list[float]:
    """One till's decisions for `seconds`, one after another: their latencies (ms)."""
    latencies: list[float] = []
    connection = connect("127.0.0.1", port, 30.0)
    deadline = time.perf_counter() + seconds
    try:
        with cpython_switching():
            while (started := time.perf_counter()) < deadline:
                basket = baskets[len(latencies) % len(baskets)]
                post(connection, "/v1/decide",
                     json.dumps({"userId": f"c{len(latencies)}", "items": basket}))
                latencies.append((time.perf_counter() - started) * 1000.0)
    finally:
        connection.close()
    return latencies


def message_content(n: int = 3000) -> dict[str, Any]:
    """Microseconds to render one message of the shipped templates for a customer (subject,
    body, signed links, click tracking, open pixel, in the budgeted sandbox), and its floor:
    the same subject and body rendered by plain Jinja, with autoescape, from compiled
    templates, in the same run (best of five passes each)."""
    renderer = Renderer(Tracker("https://intently.example.com", b"k" * 32))
    p = Profile(id="u-0001")
    p.traits = {"first_name": "Ann", "email": "ann@example.com"}
    p.cart_value = 59.9
    steps = [{"channel": "email", "subject": "{{ customer.first_name }}, your cart is waiting",
              "template": name} for name in ("cart_reminder", "cart_bonus", "welcome")]
    ref = {"m": "abandoned_cart/u-0001/1/1/1", "p": p.id, "c": "email", "a": "main"}
    extra = {"items": ["x"], "recommendations": ["a", "b"], "offer": "CART10"}
    plain = jinja2.Environment(autoescape=True)
    floor = [(plain.from_string(step["subject"]), plain.from_string(
        renderer.sources[step["template"]])) for step in steps]
    links = renderer.tracker.links(ref)
    context = renderer.context(p, 1.7e9, {**extra, **links})

    def best(one: Any) -> float:
        fastest = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            for i in range(n):
                one(i % len(steps))
            fastest = min(fastest, (time.perf_counter() - started) / n)
        return fastest * 1e6

    ours = best(lambda i: renderer.render(steps[i], p, 1.7e9, ref, extra))
    jinja = best(lambda i: (floor[i][0].render(context), floor[i][1].render(context)))
    return {"message_render_us": round(ours, 1), "message_render_plain_jinja_us": round(jinja, 1),
            "message_render_vs_plain_jinja": round(ours / jinja, 2)}


def run(quick: bool = False) -> dict[str, Any]:
    figures = event_to_outbox(1500 if quick else 5000)
    figures.update(message_content(1000 if quick else 3000))
    figures.update(decisions_in_process(20_000 if quick else 100_000))
    figures.update(decide_http(3000 if quick else 10_000))
    figures.update(decide_under_ingest(3 if quick else 5))
    return figures
