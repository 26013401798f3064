"""The outbox and its dispatcher: delivery through real local servers, retries with backoff,
expiry, dry runs; and scenarios, offers and tracking links over HTTP."""

from __future__ import annotations

import msgspec
from fastapi.testclient import TestClient

from _receivers import http_receiver, smtp_server
from conftest import T0, track
from intently import Engine, ManualClock, Settings
from intently.api import create_app
from intently.channels import HTTPChannel, Outbound, SMTPChannel
from intently.engine import Dispatcher, EngineWorker
from intently.scenarios import report
from intently.store import MemoryStore
from test_scenarios import identify, scenario

ADMIN = {"Authorization": "Bearer admin"}


def local_hook() -> HTTPChannel:
    return HTTPChannel(outbound=Outbound(["127.0.0.1"]))  # the receivers listen on loopback
WEBHOOK = {"trigger": {"event": "Product Viewed"}, "steps": [{"webhook": {"url": ""}}]}


def webhook_engine(url: str) -> Engine:
    engine = Engine(MemoryStore(), clock=ManualClock(T0))
    engine.put_scenario(scenario(trigger={"event": "Product Viewed"},
                                 steps=[{"webhook": {"url": url}}]))
    return engine


def test_dispatcher_retries_with_backoff_then_delivers_once() -> None:
    with http_receiver() as rx:
        engine = webhook_engine(rx.url + "/hook")
        engine.process(track("Product Viewed", user="ann", at=T0))
        now = [T0]
        d = Dispatcher(engine.store, {"webhook": local_hook()}, clock=lambda: now[0],
                       backoff_s=10)
        rx.statuses += [503, 503]
        assert d.run_once() == 1
        assert engine.store.outbox(1)[0][6:8] == ("pending", 1)
        assert d.run_once() == 0  # backing off: 10 s
        now[0] += 10
        d.run_once()
        now[0] += 19
        assert d.run_once() == 0  # then 20 s
        now[0] += 1
        d.run_once()
        assert engine.store.outbox(1)[0][6:8] == ("delivered", 3)
        assert len(rx.requests) == 3
        assert {r["headers"]["idempotency-key"] for r in rx.requests} == {
            engine.store.outbox(1)[0][0]}


def test_permanent_failures_give_up_and_stale_messages_expire() -> None:
    with http_receiver() as rx:
        engine = webhook_engine(rx.url + "/hook")
        engine.process(track("Product Viewed", user="ann", at=T0))
        engine.process(track("Product Viewed", user="bob", at=T0 - 3 * 86400))
        rx.statuses.append(404)
        d = Dispatcher(engine.store, {"webhook": local_hook()}, clock=lambda: T0)
        d.run_once()
        status = {r[2]: r[6] for r in engine.store.outbox(10)}
        assert status == {"ann": "failed", "bob": "expired"}
        assert d.counts["failed"] == d.counts["expired"] == 1


def test_email_without_a_configured_server_is_logged_not_sent() -> None:
    engine = Engine(MemoryStore(), clock=ManualClock(T0))
    engine.put_scenario(scenario())
    engine.process(identify("ann"))
    engine.process(track("Product Viewed", user="ann", at=T0))
    d = Dispatcher(engine.store, {}, clock=lambda: T0)
    d.run_once()
    assert engine.store.outbox(1)[0][6] == "logged"
    assert [m.to for m in d.fallback.sent] == ["ann@example.com"]  # type: ignore[attr-defined]
    arm = report(engine.store, "s")["arms"]["main"]  # logged is not delivered
    assert (arm["sent"], arm["delivered"], arm["logged"]) == (1, 0, 1)


def test_email_goes_through_smtp() -> None:
    with smtp_server() as (controller, box):
        engine = Engine(MemoryStore(), clock=ManualClock(T0))
        engine.put_scenario(scenario())
        engine.process(identify("ann", first_name="Ann"))
        engine.process(track("Product Viewed", user="ann", at=T0))
        Dispatcher(engine.store, {"email": SMTPChannel("127.0.0.1", controller.port)},
                   clock=lambda: T0).run_once()
        [mail] = box.messages
        assert mail["To"] == "ann@example.com" and mail["Subject"] == "Hi"


def client_with(engine: Engine) -> TestClient:
    s = Settings(write_keys=("wk",), admin_keys=("admin",), read_keys=("till",))
    engine.settings = s
    worker = EngineWorker(engine).start()
    return TestClient(create_app(worker, s))


def test_scenarios_over_http_with_yaml_errors_and_report() -> None:
    engine = Engine(MemoryStore(), clock=ManualClock(T0))
    c = client_with(engine)
    body = ("trigger: {event: Product Viewed}\nholdout: 0\npolicies: {quiet_hours: null}\n"
            "steps:\n  - send: {channel: email, subject: Hi, body: Hello}\n")
    r = c.put("/v1/scenarios/hello", content=body, headers=ADMIN)
    assert r.status_code == 200, r.text
    bad = c.put("/v1/scenarios/bad", content="trigger: {event: x}\nsteps: [{send: {channel: fax"
                ", body: x}}]", headers=ADMIN)
    assert bad.status_code == 400
    assert bad.json()["path"] == "$.steps[0].send.channel"
    assert c.put("/v1/scenarios/x", content="steps: [", headers=ADMIN).status_code == 400
    c.post("/v1/batch", auth=("wk", ""), json={"batch": [
        identify("ann"), track("Product Viewed", user="ann", at=T0 + 1)]})
    [msg] = c.get("/v1/outbox", headers=ADMIN).json()
    assert msg["to"] == "ann@example.com" and msg["status"] == "pending"
    report = c.get("/v1/scenarios/hello/report", headers=ADMIN).json()
    assert report["arms"]["main"]["sent"] == 1 and report["winner"] is None
    assert c.get("/v1/scenarios/nope/report", headers=ADMIN).status_code == 404
    assert c.get("/v1/scenarios", headers={}).status_code == 401

    # the links in the message: open pixel, click redirect, unsubscribe
    tracker = engine.tracker
    links = tracker.links({"m": msg["id"], "p": "ann", "c": "email", "a": "main"})
    pixel = links["open_url"].removeprefix("http://127.0.0.1:8000")
    assert c.get(pixel).headers["content-type"] == "image/gif"
    click = tracker.token({"m": msg["id"], "p": "ann", "c": "email", "a": "main",
                           "u": "https://shop.test/"})
    r = c.get(f"/t/c/{click}", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "https://shop.test/"
    assert c.get(f"/t/c/{click[:-2]}xx", follow_redirects=False).status_code == 400
    unsub = links["unsubscribe_url"].removeprefix("http://127.0.0.1:8000")
    assert "Your preferences" in c.get(unsub).text  # the preference center
    assert c.post(unsub).status_code == 200  # RFC 8058 one-click: the channel only
    report = c.get("/v1/scenarios/hello/report", headers=ADMIN).json()
    assert report["arms"]["main"]["opened"] == 1 and report["arms"]["main"]["clicked"] == 1
    assert engine.profile("ann").consents["email"] is False
    c.post("/v1/track", auth=("wk", ""), json=track("Product Viewed", user="ann", at=T0 + 9))
    assert len(c.get("/v1/outbox", headers=ADMIN).json()) == 1  # no consent, no message
    c.app.state.services.worker.stop()  # type: ignore[attr-defined]


def test_decide_offers_for_a_receipt() -> None:
    engine = Engine(MemoryStore(), clock=ManualClock(T0))
    c = client_with(engine)
    rules = [{"when": ["champagne", "candy"], "offer": "flowers", "discount": 20,
              "partner": "Bloom & Co", "text": "20% off flowers at Bloom & Co"},
             {"when": ["champagne"], "offer": "glasses", "audience": "orders >= 5"}]
    assert c.put("/v1/offers", json=rules, headers=ADMIN).status_code == 200
    bad = c.put("/v1/offers", json=[{"when": [], "offer": "x"}], headers=ADMIN)
    assert bad.status_code == 400 and bad.json()["path"] == "$[0].when"
    receipt = {"userId": "ann", "items": [{"name": "Champagne", "price": 30}, "candy"]}
    r = c.post("/v1/decide", auth=("wk", ""), json=receipt)
    assert r.status_code == 403 and "read key" in r.json()["message"]  # a write key names no one
    r = c.post("/v1/decide", auth=("till", ""), json=receipt)
    assert r.status_code == 200, r.text
    assert [o["offer"] for o in r.json()["offers"]] == ["flowers"]  # glasses: not a regular
    assert c.post("/v1/decide", auth=("wk", ""), json={"items": ["bread"]}).json()[
        "offers"] == []
    r = c.post("/v1/decide", auth=("wk", ""), json={"items": "champagne"})
    assert r.status_code == 400 and r.json()["path"] == "$.items"
    c.post("/v1/identify", auth=("wk", ""), json={"userId": "ann", "traits": {
        "consents": {"offers": False}}})
    r = c.post("/v1/decide", auth=("till", ""), json={"userId": "ann", "items": ["champagne",
                                                                                "candy"]})
    assert r.json()["offers"] == [] and "opted out" in r.json()["reason"]
    assert c.post("/v1/decide", json={"items": ["x"]}).status_code == 401
    c.app.state.services.worker.stop()  # type: ignore[attr-defined]


def test_mined_rules_become_offers() -> None:
    from intently.decisions import Decider, mined_offers

    mined = [{"antecedents": ["champagne", "candy"], "consequents": ["flowers"],
              "support": 0.01, "confidence": 0.6, "lift": 4.0},
             {"antecedents": ["bread"], "consequents": ["milk"], "support": 0.2,
              "confidence": 0.5, "lift": 1.01}]
    d = Decider(mined_offers(mined))
    assert [o["offer"] for o in d.decide(["Champagne", "Candy"])["offers"]] == ["flowers"]
    assert d.decide(["bread"])["offers"] == []  # lift too low to be worth an offer
    assert msgspec.json.encode(d.decide(["champagne", "candy", "flowers"])) == (
        b'{"offers":[],"reason":"no rule matches this basket"}')


def test_analytics_jobs_over_http_are_used_at_once() -> None:
    from intently.testing import Shop

    engine = Engine(MemoryStore(), clock=ManualClock(T0))
    c = client_with(engine)
    assert c.get("/v1/rfm", headers=ADMIN).status_code == 404
    r = c.post("/v1/rfm/update", headers=ADMIN)
    assert r.status_code == 400 and "no customer has bought" in r.json()["message"]
    shop = Shop(users=400, days=30, seed=8)
    events = list(shop.events())
    for i in range(0, len(events), 500):
        assert c.post("/v1/batch", auth=("wk", ""), json={"batch": events[i:i + 500]}
                      ).status_code == 200
    engine.clock.set(max(p.last_seen for p in engine.hot_profiles()) + 86400)  # type: ignore
    rfm = c.post("/v1/rfm/update", headers=ADMIN).json()
    assert rfm["customers"] > 50 and len(rfm["cuts"]["recency_days"]) == 4
    clv = c.post("/v1/clv/update", headers=ADMIN).json()
    assert set(clv["bgnbd"]) == {"r", "alpha", "a", "b"}
    buyer = next(p for p in engine.hot_profiles() if p.orders >= 2)
    profile = c.get(f"/v1/profiles/{buyer.id}", headers=ADMIN).json()
    assert profile["rfm"]["segment"] and profile["clv"]["p_alive"] >= 0
    assert c.put("/v1/segments/lively", json={"text": "clv.p_alive > 0.5"},
                 headers=ADMIN).status_code == 200
    bad = c.post("/v1/rules/mine", json={"min_support": 2}, headers=ADMIN)
    assert bad.status_code == 400 and bad.json()["path"] == "$.min_support"
    mined = c.post("/v1/rules/mine", json={"min_support": 0.005, "save": True},
                   headers=ADMIN).json()
    assert mined["rules"] > 0 and mined["saved"]
    assert any(r["source"] == "mined" for r in c.get("/v1/offers", headers=ADMIN).json())
    c.app.state.services.worker.stop()  # type: ignore[attr-defined]


def test_the_daily_offer_cap_counts_here_or_where_it_is_told() -> None:
    """In memory, a sliding day per customer; a cluster's gateways pass the count they share
    (`given`), and then nothing is counted in memory."""
    from intently.decisions import Decider, OfferRule

    decider = Decider([OfferRule(name="r", when=frozenset({"pasta"}), offer="parmesan")],
                      cap_per_day=2)
    got = [len(decider.decide(["pasta"], None, T0 + i, customer="c")["offers"])
           for i in range(3)]
    assert got == [1, 1, 0]
    assert len(decider.decide(["pasta"], None, T0 + 86400.5, customer="c")["offers"]) == 1
    told = decider.decide(["pasta"], None, T0, customer="d", given=2)
    assert told["offers"] == [] and told["reason"] == "daily offer cap reached"
    assert len(decider.decide(["pasta"], None, T0, customer="d", given=1)["offers"]) == 1
    assert len(decider.decide(["pasta"], None, T0, customer="d")["offers"]) == 1  # not counted


def test_an_item_two_rules_offer_comes_from_the_best_ranked_whatever_the_basket_order() -> None:
    """The rules that hold are ranked together and each item is offered once, by the best of
    them: not by whichever the basket's (hash-ordered) set met first."""
    from intently.decisions import Decider, OfferRule

    rules = [OfferRule(name=f"{kind}{k}", when=frozenset({f"{kind}{k}"}), offer=f"o{k}",
                       text=kind, priority=2 if kind == "good" else 1)
             for k in range(20) for kind in ("good", "poor")]
    decider = Decider(rules, max_offers=20)
    basket = [f"{kind}{k}" for k in range(20) for kind in ("poor", "good")]
    for items in (basket, basket[::-1]):
        offers = decider.decide(items)["offers"]
        assert sorted(o["offer"] for o in offers) == sorted(f"o{k}" for k in range(20))
        assert {o["text"] for o in offers} == {"good"}


def test_the_daily_cap_forgets_customers_given_nothing_for_a_day() -> None:
    """Each customer decided for is counted; those given nothing in the last day are dropped
    once the count has grown (`GIVEN_SWEEP`), so it holds the last day's customers only."""
    from intently.decisions import Decider, OfferRule
    from intently.decisions._offers import GIVEN_SWEEP

    decider = Decider([OfferRule(name="r", when=frozenset({"pasta"}), offer="parmesan")],
                      cap_per_day=1)
    for i in range(GIVEN_SWEEP):
        assert decider.decide(["pasta"], None, T0, customer=f"c{i}")["offers"]
    later = T0 + 2 * 86400
    assert decider.decide(["pasta"], None, later - 60, customer="z")["offers"]  # sweeps
    assert decider.decide(["pasta"], None, later - 30, customer="y")["offers"]
    for i in range(GIVEN_SWEEP // 2):
        assert decider.decide(["pasta"], None, later, customer=f"d{i}")["offers"]
    assert len(decider._given) == GIVEN_SWEEP // 2 + 2  # the day-old ten thousand are gone
    assert decider.decide(["pasta"], None, later, customer="z")["reason"] == (
        "daily offer cap reached")  # a customer of the last day is still counted
    assert decider.decide(["pasta"], None, later, customer="c1")["offers"]  # a day ago: new
