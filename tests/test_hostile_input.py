"""No input loses data or stops the engine: values are bounded, times follow the receive time,
and an event the pipeline still fails on is set aside with its error while the engine goes on."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from conftest import T0, sqlite_engine, track
from intently import Engine, ManualClock, Settings, ValidationError
from intently.events import decode_batch, parse_timestamp
from intently.intent import IntentModel
from intently.segments import Segment
from intently.store import MemoryStore

HOUR = 3600.0


def live(clock: ManualClock | None = None) -> Engine:
    """An engine with the default settings, its clock at T0 (live traffic arrives now)."""
    return Engine(MemoryStore(), clock=clock or ManualClock(T0))


@pytest.mark.parametrize(("event", "path", "words"), [
    ({"type": "identify", "userId": "big", "traits": {"loyalty_points": 2**64}},
     "$[0].traits.loyalty_points", "64 bits"),
    ({"event": "X", "userId": "u", "properties": {"price": -(2**63) - 1}},
     "$[0].properties.price", "64 bits"),
    ({"event": "X", "userId": "u", "context": {"a": {"b": 1e400}}},
     "$[0].context.a.b", "finite"),
    ({"event": "X", "userId": "u", "properties": {"k" * 300: 1}}, "$[0].properties",
     "key of 300"),
    ({"event": "X", "userId": "u", "properties": {"odd key": [1, {"x": 2**70}]}},
     '$[0].properties["odd key"][1].x', "64 bits"),
    ({"event": "X", "userId": "u", "timestamp": 1e300}, "$[0].timestamp", "out of range"),
    ({"event": "X", "userId": "u", "timestamp": "1815-06-18T11:00:00Z"}, "$[0].timestamp",
     "before 1970"),
    ({"event": "X", "userId": "u", "sentAt": "soon"}, "$[0].sentAt", "cannot parse"),
    # ids become the store's keys, and PostgreSQL's text cannot hold a NUL
    ({"event": "X", "userId": "u\x00v"}, "$[0].userId", "NUL"),
    ({"event": "X", "anonymousId": "\x00"}, "$[0].anonymousId", "NUL"),
    ({"event": "X", "userId": "u", "messageId": "m\x00"}, "$[0].messageId", "NUL"),
    ({"event": "X\x00", "userId": "u"}, "$[0].event", "NUL"),
    ({"type": "group", "userId": "u", "groupId": "g\x00"}, "$[0].groupId", "NUL"),
    ({"event": "Order Completed", "userId": "u", "properties": {"order_id": "o\x00"}},
     "$[0].properties.order_id", "NUL"),
    ({"type": "identify", "userId": "u", "traits": {"email": "a@b\x00"}},
     "$[0].traits.email", "NUL"),
])
def test_values_out_of_bounds_are_refused_with_their_path(event: dict[str, Any], path: str,
                                                          words: str) -> None:
    engine = live()
    with pytest.raises(ValidationError) as err:
        engine.process_many([event])
    assert err.value.path == path and words in err.value.message
    assert engine.store.count_events() == 0


def test_deep_nesting_is_refused_not_a_crash() -> None:
    deep = b'{"a":' * 1500 + b"1" + b"}" * 1500
    body = b'{"event": "X", "userId": "u", "properties": ' + deep + b"}"
    engine = live()
    with pytest.raises(ValidationError) as err:
        engine.process_many([body])
    assert "nested" in err.value.message


def test_epoch_units_are_told_apart() -> None:
    for value in (1_790_000_000, 1_790_000_000_000, 1_790_000_000_000_000,
                  1_790_000_000_000_000_000):
        assert parse_timestamp(value) == T0  # s, ms (Date.now()), µs (GA4), ns


def test_the_event_time_cannot_be_set_by_the_client() -> None:
    engine = live()
    done = engine.process({"event": "X", "userId": "u", "ts": -1e18, "timestamp": T0 - 60,
                           "intentlyReceivedAt": 5})
    assert done is not None and done.event.ts == T0 - 60 and done.event.received_at == T0
    done = engine.process({"event": "X", "userId": "v", "ts": 12})
    assert done is not None and done.event.ts == T0


def test_a_far_future_event_is_filed_at_its_receive_time_and_fires_no_timers() -> None:
    engine = live()
    engine.put_segment(Segment.from_text("abandoned",
                                         "did added_to_cart in 24h and no purchased in 24h"))
    for i in range(5):
        engine.process(track("Product Added", user=f"c{i}", at=T0))
    done = engine.process({"event": "Product Viewed", "userId": "x",
                           "timestamp": "2999-01-01T00:00:00Z"})
    assert done is not None and done.event.ts == T0  # filed at the receive time
    assert done.event.timestamp == "2999-01-01T00:00:00Z"  # the claim is kept
    assert [engine.profile(f"c{i}").segments for i in range(5)] == [("abandoned",)] * 5
    stored = engine.timeline(engine.profile("x"))[0]
    assert stored.ts == T0 and stored.timestamp == "2999-01-01T00:00:00Z"


def test_sent_at_corrects_a_device_clock_as_segment_does() -> None:
    engine = live()
    # the phone's clock is an hour fast: it stamped the event and sent it 10 s later
    done = engine.process({"event": "X", "userId": "u", "timestamp": T0 + HOUR - 10,
                           "sentAt": T0 + HOUR})
    assert done is not None and done.event.ts == T0 - 10
    # an export line, already corrected by the collector that received it
    line = {"type": "track", "event": "Order Completed", "userId": "u",
            "messageId": "m-1", "timestamp": "2026-09-01T10:00:00.000Z",
            "originalTimestamp": "2026-09-01T11:00:00.000Z", "sentAt": "2026-09-01T11:00:05Z",
            "receivedAt": "2026-09-01T10:00:05.000Z", "properties": None}
    done = engine.process(line)
    assert done is not None and done.event.ts == parse_timestamp("2026-09-01T10:00:00Z")
    line.pop("timestamp")  # with no timestamp: receivedAt - (sentAt - originalTimestamp)
    line["messageId"] = "m-2"
    done = engine.process(line)
    assert done is not None and done.event.ts == parse_timestamp("2026-09-01T10:00:00Z")


def test_a_late_event_takes_its_place_in_the_journey_chain() -> None:
    """An offline phone sends its events when it is back: the journey reads as it happened."""
    journey = [track("Product Viewed", user="u", at=T0 - 900, price=20),
               track("Product Added", user="u", at=T0 - 600, price=20),
               track("Product Viewed", user="u", at=T0 - 300, price=20, sku="b"),
               track("Checkout Started", user="u", at=T0 - 60, price=20)]
    in_order, late = live(), live()
    for ev in journey:
        in_order.process(ev)
    for ev in (journey[0], journey[3], journey[1], journey[2]):  # two arrive late
        late.process(ev)
    a, b = in_order.profile("u"), late.profile("u")
    assert b.chain == a.chain and list(b.chain_ts) == list(a.chain_ts)
    assert b.intent_acc == pytest.approx(a.intent_acc) and b.intent == pytest.approx(a.intent)
    assert b.intent != pytest.approx(in_order.intent.model.base_rate)
    # an event of a journey long over is counted, but today's journey is not rewritten
    late.process(track("Product Added", user="u", at=T0 - 30 * 24 * HOUR, price=5))
    c = late.profile("u")
    assert c.events == 5 and c.chain == a.chain and c.intent == pytest.approx(a.intent)


def test_nulls_are_as_good_as_absent_and_the_event_replays(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "n.db")
    body = msgspec.json.encode({"event": "X", "userId": "u", "properties": None,
                                "traits": None, "context": None})
    assert engine.process_many([body]).accepted == 1
    engine.store.close()  # a crash: the event comes back from the log
    again = sqlite_engine(tmp_path / "n.db")
    assert again.recovered == 1 and again.profile("u").events == 1
    again.close()


def test_group_traits_stay_off_the_person_and_context_traits_count() -> None:
    engine = live()
    engine.process({"type": "identify", "userId": "u", "traits": {"name": "Ann"}})
    engine.process({"type": "group", "userId": "u", "groupId": "acme",
                    "traits": {"name": "Acme Inc", "email": "sales@acme.test"}})
    p = engine.profile("u")
    assert p.traits["name"] == "Ann" and engine.find("sales@acme.test") is None
    # the company's traits are the account's own record, with its members
    engine.process({"type": "group", "anonymousId": "visitor", "groupId": "acme",
                    "traits": {"plan": "pro"}})
    engine.process({"type": "identify", "userId": "u", "anonymousId": "visitor"})
    acme = engine.account("acme")
    assert acme.traits == {"name": "Acme Inc", "email": "sales@acme.test", "plan": "pro"}
    assert [m.id for m in engine.members(acme)] == [p.id]  # the visitor merged into Ann
    assert engine.accounts_of(engine.profile("u")) == ["acme"]
    # RudderStack's libraries send identify traits in context.traits only
    engine.process({"type": "identify", "userId": "r", "context": {
        "traits": {"email": "R@Shop.test", "plan": "gold"}}})
    assert engine.profile("r").traits["plan"] == "gold"
    assert engine.find("r@shop.test") is engine.profile("r")


# A defect stands in for whatever a future bug may be: a stored model with a weight that is
# not a number makes scoring fail on one signal only.
SOUND = IntentModel(version="sound", bias=-2.0, count={"poison": 0.5})
CORRUPT = IntentModel(version="corrupt", bias=-2.0, count={"poison": "x"})  # type: ignore[dict-item]


def with_model(path: Path, model: IntentModel) -> Engine:
    return Engine(path, settings=Settings(db=str(path)), clock=ManualClock(T0),
                  intent_model=model)


def test_an_event_the_pipeline_fails_on_is_set_aside_and_the_engine_goes_on(
        tmp_path: Path) -> None:
    engine = with_model(tmp_path / "d.db", CORRUPT)
    result = engine.process_many([track("A", user="u", mid="m1"),
                                  track("Poison", user="u", mid="m2"),
                                  track("C", user="v", mid="m3")])
    assert (result.accepted, result.duplicates) == (3, 0)  # all durable: 200 for the client
    assert engine.profile("u").events == 1 and engine.profile("v").events == 1
    aside = engine.store.set_aside_events()
    assert [(r[0], r[4].split(":")[0]) for r in aside] == [(2, "TypeError")]
    assert b"Poison" in aside[0][3] and engine.events_set_aside == 1
    assert engine.process_many([track("Poison", user="u", mid="m2")]).duplicates == 1
    assert engine.process_many([track("D", user="u", mid="m4")]).accepted == 1
    engine.store.close()  # a crash; the restart replays without halting on it
    again = with_model(tmp_path / "d.db", CORRUPT)
    assert again.recovered == 3 and again.profile("u").events == 2
    again.close()


def test_a_batch_of_events_the_pipeline_fails_on_is_set_aside_one_by_one(
        tmp_path: Path) -> None:
    """Each failing event is set aside in turn, in a loop: 600 of them in one batch once ran
    out of Python's stack, a call nested per event."""
    engine = with_model(tmp_path / "d.db", CORRUPT)
    engine.process(track("A", user="u", mid="m0"))
    batch = [track("A", user="u", mid="m0")]  # a resend: a duplicate at index 0
    batch += [track("Poison", user=f"p{i}", mid=f"p{i}") for i in range(600)]
    batch += [track("A", user="v", mid="m1"), track("Poison", user="w", mid="p0"),
              track("A", user="v", mid="m2")]  # a poisoned resend: a duplicate at 602
    result = engine.commit_batch(*decode_batch(batch, 0))
    assert (result.accepted, result.duplicates) == (602, 2)
    assert result.duplicate_at == {0, 602}  # where the client's batch had them
    assert engine.events_set_aside == 600 and len(engine.store.set_aside_seqs()) == 600
    assert engine.profile("v").events == 2 and engine.profile("u").events == 1
    engine.close()


def test_recovery_sets_aside_a_logged_event_that_fails_and_goes_on(tmp_path: Path) -> None:
    engine = with_model(tmp_path / "r.db", SOUND)
    engine.process_many([track("A", user="u"), track("Poison", user="u"),
                         track("C", user="u")])
    engine.store.close()  # a crash; the new version fails on the second event
    again = with_model(tmp_path / "r.db", CORRUPT)
    assert again.profile("u").events == 2 and again.recovered == 2
    assert [r[0] for r in again.store.set_aside_events()] == [2]
    again.close()


@pytest.mark.parametrize("body", [
    "{{ 'a' * 200000000 }}",
    "{% for i in range(10**7) %}x{% endfor %}",
    "{% for i in range(9000) %}{% for j in range(9000) %}{% endfor %}{% endfor %}",
    "{{ 'a'|center(10**9) }}",
    "{{ 2 ** (10 ** 8) }}",
    "{% for i in range(3000) %}{{ 'x' * 100 }}{% endfor %}",
])
def test_a_runaway_template_is_a_failed_send_not_a_failed_event(body: str) -> None:
    from intently.scenarios import Scenario

    engine = live()
    engine.put_scenario(Scenario.from_dict({
        "name": "greedy", "trigger": {"event": "Product Viewed"}, "holdout": 0,
        "policies": {"quiet_hours": None},
        "steps": [{"send": {"channel": "email", "subject": "Hi", "body": body}}]}))
    engine.process({"type": "identify", "userId": "u", "timestamp": T0, "traits": {
        "email": "u@example.com", "consents": {"email": True}}})
    started = time.perf_counter()
    assert engine.process_many([track("Product Viewed", user="u", at=T0)]).accepted == 1
    assert time.perf_counter() - started < 2.0
    kinds = [r[4] for r in engine.store.journal(limit=10)]
    assert "failed" in kinds and "sent" not in kinds and engine.store.outbox(10) == []


def test_the_template_budget_counts_the_renders_own_work_not_a_busy_machine() -> None:
    """A render that waits (the machine busy with something else, a long collection) is not
    over budget; the collector is paused during a render and resumed after it."""
    import gc

    from intently.scenarios._sandbox import BudgetEnvironment

    class Slow:
        def __str__(self) -> str:
            time.sleep(0.4)  # wall time passes; this thread uses no CPU
            return "ok"

    env = BudgetEnvironment()
    started = time.perf_counter()
    assert env.render(env.from_string("{{ a }} {{ b }}"), {"a": Slow(), "b": Slow()}) == "ok ok"
    assert time.perf_counter() - started > 0.25 and gc.isenabled()


def test_the_same_order_sent_twice_counts_once(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "o.db")
    browser = track("Order Completed", anon="a-1", mid="web-1", order_id="o-7", revenue=20)
    server = track("Order Completed", user="u", mid="srv-1", order_id="o-7", revenue=20)
    other = track("Order Completed", user="u", mid="srv-2", order_id="o-8", revenue=5)
    result = engine.process_many([browser, server, other])
    assert (result.accepted, result.duplicates) == (2, 1)
    again = track("Order Completed", user="u", mid="srv-3", order_id="o-8", revenue=5)
    assert engine.process_many([again]).duplicates == 1  # in a later batch too
    assert (engine.profile("a-1").orders, engine.profile("u").orders) == (1, 1)
    viewed = track("Product Viewed", user="u", mid="v-1", order_id="o-7")
    assert engine.process_many([viewed]).accepted == 1  # only purchases claim an order
    engine.close()


def test_set_aside_events_are_shown_by_the_cli_the_api_and_the_counters(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from intently.api import create_app
    from intently.cli import app
    from intently.engine import EngineWorker

    db = tmp_path / "v.db"
    engine = with_model(db, CORRUPT)
    engine.process_many([track("Poison", user="u", mid="p1"), track("A", user="u", mid="a1"),
                         track("A", user="u", mid="a1")])  # the last one is a duplicate
    assert engine.events_stored() == 2 and engine.events_set_aside == 1
    engine.close()
    out = CliRunner().invoke(app, ["events", "set-aside", "--db", str(db), "--json"])
    assert out.exit_code == 0, out.output
    (row,) = json.loads(out.stdout)
    assert row["seq"] == 1 and row["error"].startswith("TypeError")
    assert row["event"]["event"] == "Poison"
    s = Settings(db=str(db), admin_keys=("k",))
    worker = EngineWorker(Engine(db, settings=s, clock=ManualClock(T0),
                                 intent_model=CORRUPT)).start()
    try:
        client = TestClient(create_app(worker, s))
        auth = {"Authorization": "Bearer k"}
        assert client.get("/v1/events/set-aside", headers=auth).json()[0]["seq"] == 1
        stats = client.get("/v1/stats", headers=auth).json()
        assert (stats["events_stored"], stats["events_set_aside"]) == (2, 1)
        assert client.get("/health").json()["events_set_aside"] == 1
    finally:
        worker.stop()
