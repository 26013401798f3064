"""Scenarios on the engine with the clock skipped: every trigger, every step, the policies,
holdout and variants, and timers that fire the same way live and on replay."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from _cluster_engine import MODES, engines
from conftest import HISTORY, T0, sqlite_engine, track
from intently import Engine, ManualClock, Settings
from intently.scenarios import Scenario, ScenarioError, ready_made
from intently.segments import Segment
from intently.store import MemoryStore

HOUR = 3600.0
DAY = 24 * HOUR


def identify(user: str, at: float = T0, **traits: Any) -> dict[str, Any]:
    consents = traits.pop("consents", {"email": True, "sms": True, "push": True})
    return {"type": "identify", "userId": user, "timestamp": at,
            "traits": {"email": f"{user}@example.com", "phone": "+4712345678",
                       "consents": consents, **traits}}


def scenario(**spec: Any) -> Scenario:
    base: dict[str, Any] = {"name": "s", "trigger": {"event": "Product Viewed"}, "holdout": 0,
                            "policies": {"quiet_hours": None},
                            "steps": [{"send": {"channel": "email", "subject": "Hi",
                                                "body": "Hello {{ customer.first_name }}"}}]}
    base.update(spec)
    return Scenario.from_dict(base)


def embedded_with(*scenarios: Scenario, clock: ManualClock | None = None, **kw: Any
                  ) -> Engine:
    kw.setdefault("settings", HISTORY)
    engine = Engine(MemoryStore(), clock=clock or ManualClock(T0), **kw)
    for s in scenarios:
        engine.put_scenario(s)
    return engine


EngineWith = Callable[..., Any]


@pytest.fixture(params=MODES)
def engine_with(request: pytest.FixtureRequest) -> Iterator[EngineWith]:
    """`engine_with(*scenarios, clock=None, settings=None)`: an engine with these scenarios,
    embedded or through a cluster (`_cluster_engine`): the tests that take it run in both."""
    with engines(request) as make:
        def made(*scenarios: Scenario, clock: ManualClock | None = None,
                 settings: Settings | None = None) -> Any:
            engine = make(clock, settings)
            for s in scenarios:
                engine.put_scenario(s)
            return engine
        yield made


def sent(engine: Engine, scenario: str | None = None) -> list[tuple[str, str, str]]:
    """(profile, channel, subject) of the outbox's messages, oldest first."""
    import msgspec

    rows = sorted(engine.store.outbox(1000, scenario=scenario), key=lambda r: (r[5], r[0]))
    return [(r[2], r[4], msgspec.json.decode(r[10]).get("subject", "")) for r in rows]


def journal(engine: Engine, kind: str) -> list[tuple[str, str]]:
    return sorted((r[2], r[7]) for r in engine.store.journal(limit=1000) if r[4] == kind)


def test_event_trigger_sends_a_rendered_email_with_tracking_and_unsubscribe(
        engine_with: EngineWith) -> None:
    engine = engine_with(scenario(steps=[{"send": {
        "channel": "email", "subject": "Hi {{ customer.first_name }}",
        "body": '<p>Hi {{ customer.first_name }}</p><a href="https://shop.test/x">go</a>'}}]))
    engine.process(identify("ann", first_name="Ann"))
    engine.process(track("Product Viewed", user="ann", at=T0 + 60))
    [row] = engine.store.outbox(10)
    import msgspec
    msg = msgspec.json.decode(row[10])
    assert msg["to"] == "ann@example.com" and msg["subject"] == "Hi Ann"
    assert "/t/c/" in msg["body"] and "https://shop.test/x" not in msg["body"]
    assert "/t/o/" in msg["body"] and msg["data"]["unsubscribe_url"].startswith(
        "http://127.0.0.1:8000/u/")
    assert row[6] == "pending" and row[5] == T0 + 60


def test_no_consent_or_no_address_suppresses_with_a_reason() -> None:
    engine = embedded_with(scenario())
    engine.process(identify("ann", consents={"email": False}))
    engine.process(track("Product Viewed", user="ann", at=T0 + 1))
    engine.process(track("Product Viewed", user="bob", at=T0 + 2))  # never identified
    assert sent(engine) == []
    assert journal(engine, "suppressed") == [("ann", "no email consent"),
                                             ("bob", "no email consent")]
    relaxed = embedded_with(scenario(policies={"consent": False, "quiet_hours": None}))
    relaxed.process(track("Product Viewed", user="bob", at=T0))
    assert journal(relaxed, "suppressed") == [("bob", "no email address")]


def test_wait_step_fires_on_the_clock_without_events(engine_with: EngineWith) -> None:
    clock = ManualClock(T0)
    engine = engine_with(scenario(steps=[{"wait": {"hours": 2}}, {"send": {
        "channel": "email", "subject": "Later", "body": "x"}}]), clock=clock)
    engine.process(identify("ann"))
    engine.process(track("Product Viewed", user="ann", at=T0))
    assert sent(engine) == []
    clock.advance(2 * HOUR - 1)
    engine.tick()
    assert sent(engine) == []
    clock.advance(1)
    engine.tick()
    assert sent(engine) == [("ann", "email", "Later")]


def test_inactivity_trigger_cancelled_by_the_awaited_event(engine_with: EngineWith) -> None:
    spec = {"trigger": {"inactivity": {"after": "added_to_cart", "without": "purchased",
                                       "hours": 3}}}
    engine = engine_with(scenario(**spec))
    for user in ("ann", "bob"):
        engine.process(identify(user))
        engine.process(track("Product Added", user=user, at=T0, price=10))
    engine.process(track("Order Completed", user="bob", at=T0 + HOUR, revenue=10))
    engine.tick(T0 + 3 * HOUR)
    assert [m[0] for m in sent(engine)] == ["ann"]


def test_wait_for_takes_then_or_timeout(engine_with: EngineWith) -> None:
    steps = [{"wait_for": {"event": "purchased", "hours": 24, "then": "thanks",
                           "timeout": "next"}},
             {"send": {"channel": "email", "subject": "Reminder", "body": "x"}}, "exit",
             {"id": "thanks", "send": {"channel": "email", "subject": "Thanks", "body": "x"}}]
    engine = engine_with(scenario(trigger={"event": "added_to_cart"}, steps=steps))
    for user in ("ann", "bob"):
        engine.process(identify(user))
        engine.process(track("Product Added", user=user, at=T0))
    engine.process(track("Order Completed", user="bob", at=T0 + HOUR, revenue=5))
    engine.tick(T0 + DAY)
    assert sorted(sent(engine)) == [("ann", "email", "Reminder"), ("bob", "email", "Thanks")]


def test_branch_on_the_record_and_update_step(engine_with: EngineWith) -> None:
    steps = [{"branch": {"if": "cart_value >= 100", "then": "big"}},
             {"send": {"channel": "email", "subject": "Small", "body": "x"}}, "exit",
             {"id": "big", "update": {"traits": {"vip_offer": True}, "tags": ["big cart"]}},
             {"send": {"channel": "email", "subject": "Big", "body": "x"}}]
    engine = engine_with(scenario(trigger={"event": "added_to_cart"}, steps=steps))
    for user, price in (("ann", 150), ("bob", 20)):
        engine.process(identify(user))
        engine.process(track("Product Added", user=user, at=T0, price=price))
    assert sorted(sent(engine)) == [("ann", "email", "Big"), ("bob", "email", "Small")]
    assert engine.profile("ann").traits["vip_offer"] is True
    assert engine.profile("ann").traits["tags"] == ["big cart"]


def test_segment_enter_and_exit_triggers_including_a_timer_exit(engine_with: EngineWith) -> None:
    engine = engine_with(
        scenario(name="hello", trigger={"segment_enter": "carts"}),
        scenario(name="bye", trigger={"segment_exit": "carts"},
                 steps=[{"send": {"channel": "sms", "body": "Gone"}}]))
    engine.put_segment(Segment.from_text("carts", "did added_to_cart in 24h"))
    engine.process(identify("ann"))
    engine.process(track("Product Added", user="ann", at=T0))
    assert sent(engine, "hello") == [("ann", "email", "Hi")]
    engine.tick(T0 + DAY + 1)  # the window expires: no event of hers
    assert [m[:2] for m in sent(engine, "bye")] == [("ann", "sms")]


def test_intent_crossing_and_cluster_change_triggers(engine_with: EngineWith) -> None:
    engine = engine_with(scenario(name="hot", trigger={"intent_above": 0.3}),
                         scenario(name="moved", trigger={"cluster_change": True}))
    engine.process(identify("ann"))
    for i, name in enumerate(["Product Viewed", "Product Specs Viewed", "Product Added",
                              "Checkout Started"]):
        engine.process(track(name, user="ann", at=T0 + 60 * i, price=50))
    p = engine.profile("ann")
    assert p.intent > 0.3
    assert len(sent(engine, "hot")) == 1  # a crossing, not every event above the line
    assert len(sent(engine, "moved")) >= 1


def test_date_trigger_fires_on_the_birthday_at_local_hour(engine_with: EngineWith) -> None:
    engine = engine_with(scenario(trigger={"date": {"trait": "birthday", "hour": 10}},
                                  policies={"quiet_hours": None, "reentry": "after_exit"}))
    # T0 is 2026-09-21; the birthday is on 2026-09-25 at 10:00 in Oslo (08:00 UTC)
    engine.process(identify("ann", birthday="1990-09-25", timezone="Europe/Oslo"))
    engine.tick(T0 + 3 * DAY)
    assert sent(engine) == []
    engine.tick(1_790_323_200.0)  # 2026-09-25T08:00:00Z
    assert len(sent(engine)) == 1


def test_quiet_hours_defer_to_local_morning_and_best_hour_send_time(
        engine_with: EngineWith) -> None:
    late = 1_790_031_600.0  # 2026-09-21T23:00:00Z = 01:00 in Oslo
    engine = engine_with(scenario(policies={"quiet_hours": [21, 8]}))
    engine.process(identify("ann", timezone="Europe/Oslo", at=late))
    engine.process(track("Product Viewed", user="ann", at=late))
    assert sent(engine) == []
    engine.tick(late + 7 * HOUR - 1)  # 07:59:59 local
    assert sent(engine) == []
    engine.tick(late + 7 * HOUR + 900)
    [row] = engine.store.outbox(10)
    assert late + 7 * HOUR <= row[5] < late + 7 * HOUR + 900  # 08:00 local, plus ann's moment


def test_sends_held_for_the_same_hour_spread_over_its_first_quarter() -> None:
    """Customers held by quiet hours go out over the 15 minutes after they end, each at a
    moment drawn from the customer (the same on every replay), not as one burst;
    `spread: null` sends them all on the hour."""
    late = 1_790_031_600.0  # 2026-09-21T23:00:00Z = 01:00 in Oslo
    morning = late + 7 * HOUR
    due: dict[str, list[float]] = {}
    for spread in ("default", None):
        policies: dict[str, Any] = {"quiet_hours": [21, 8]}
        if spread != "default":
            policies["spread"] = spread
        for _ in range(2):  # twice: the same moments
            engine = embedded_with(scenario(policies=policies))
            for i in range(200):
                engine.process(identify(f"c{i}", timezone="Europe/Oslo", at=late))
                engine.process(track("Product Viewed", user=f"c{i}", at=late))
            engine.tick(morning + HOUR)
            times = sorted(row[5] for row in engine.store.outbox(1000))
            assert len(times) == 200
            assert due.setdefault(str(spread), times) == times
    assert set(due["None"]) == {morning}
    spread_out = due["default"]
    assert morning <= spread_out[0] and spread_out[-1] < morning + 900
    assert len(set(spread_out)) > 150
    with pytest.raises(ScenarioError, match=r"\$\.policies\.spread"):
        scenario(policies={"spread": {"hours": 2}})


def test_caps_and_priority(engine_with: EngineWith) -> None:
    low = scenario(name="low", policies={"priority": 1, "quiet_hours": None})
    high = scenario(name="high", policies={"priority": 9, "quiet_hours": None,
                                           "cap": {"count": 1, "days": 1}})
    engine = engine_with(low, high)
    engine.process(identify("ann"))
    for i in range(3):
        engine.process(track("Product Viewed", user="ann", at=T0 + 60 * i))
    # the global cap is 3 a day: high goes first, then its own cap of 1 a day stops it
    assert [m[0] for m in sent(engine, "high")] == ["ann"]
    assert len(sent(engine, "low")) == 2
    reasons = {ref for _, ref in journal(engine, "suppressed")}
    assert reasons == {"daily message cap", "scenario cap"}


def test_reentry_rules(engine_with: EngineWith) -> None:
    never = scenario(name="once", policies={"reentry": "never", "quiet_hours": None})
    cool = scenario(name="cool", policies={"reentry": {"after": {"hours": 2}},
                                           "quiet_hours": None, "consent": False})
    engine = engine_with(never, cool, settings=Settings(message_cap_per_day=100,
                                                           future_tolerance_seconds=float("inf")))
    engine.process(identify("ann"))
    for at in (T0, T0 + HOUR, T0 + 3 * HOUR):
        engine.process(track("Product Viewed", user="ann", at=at))
    assert len(sent(engine, "once")) == 1
    assert len(sent(engine, "cool")) == 2


def test_holdout_and_variants_split_deterministically() -> None:
    spec = {"holdout": 0.2, "variants": {"A": 50, "B": 50},
            "steps": [{"split": {"A": "a", "B": "b"}},
                      {"id": "a", "send": {"channel": "log", "body": "A"}}, "exit",
                      {"id": "b", "send": {"channel": "log", "body": "B"}}]}
    engine = embedded_with(scenario(**spec))
    for i in range(500):
        engine.process(track("Product Viewed", user=f"u{i}", at=T0 + i))
    arms = [r[3] for r in engine.store.journal(limit=5000) if r[4] == "entered"]
    share = {arm: arms.count(arm) / len(arms) for arm in set(arms)}
    assert set(share) == {"holdout", "A", "B"}
    assert 0.14 < share["holdout"] < 0.26 and 0.32 < share["A"] < 0.48
    assert {r[3] for r in engine.store.outbox(1000)} == {"A", "B"}  # holdout gets nothing
    again = embedded_with(scenario(**spec))
    for i in range(500):
        again.process(track("Product Viewed", user=f"u{i}", at=T0 + i))
    assert sorted(again.store.journal(limit=5000)) == sorted(engine.store.journal(limit=5000))


def test_webhook_and_lead_steps_go_to_the_outbox(engine_with: EngineWith) -> None:
    steps = [{"webhook": {"url": "http://127.0.0.1:9/hook", "body": {"kind": "calc"}}},
             {"lead": {"team": "branch", "note": "used the loan calculator twice"}}]
    engine = engine_with(scenario(trigger={"event": "Loan Calculator Used"}, steps=steps))
    engine.process(track("Loan Calculator Used", user="ann", at=T0))
    rows = sorted(engine.store.outbox(10), key=lambda r: r[0])
    assert [(r[4], r[0].split("/")[-2]) for r in rows] == [("webhook", "0"), ("lead", "1")]


def test_conversion_counts_within_the_goal_window(engine_with: EngineWith) -> None:
    engine = engine_with(scenario(goal={"event": "purchased", "days": 1}))
    for user, delay in (("ann", HOUR), ("bob", 2 * DAY)):
        engine.process(identify(user))
        engine.process(track("Product Viewed", user=user, at=T0))
        engine.process(track("Order Completed", user=user, at=T0 + delay, revenue=40))
    assert journal(engine, "converted") == [("ann", "")]
    [row] = [r for r in engine.store.journal(limit=100) if r[4] == "converted"]
    assert row[6] == 40.0


def test_replay_after_a_crash_gives_the_same_outbox(tmp_path: Path) -> None:
    """Timers fire on event time, ids come from (scenario, customer, entry, step): replaying
    the log into a fresh store yields the very same messages."""
    spec = {"trigger": {"event": "added_to_cart"},
            "steps": [{"wait": {"hours": 1}}, {"send": {"channel": "email", "subject": "R",
                                                        "body": "x"}}]}
    events = [identify("ann"), track("Product Added", user="ann", at=T0),
              track("Product Viewed", user="ann", at=T0 + 2 * HOUR)]
    live = sqlite_engine(tmp_path / "a.db", checkpoint_events=10**9)
    live.put_scenario(scenario(**spec))
    live.process_many(events)
    ids = [r[0] for r in live.store.outbox(10)]
    live.store.close()  # a crash: no checkpoint
    again = sqlite_engine(tmp_path / "a.db")
    assert again.recovered == 3
    assert [r[0] for r in again.store.outbox(10)] == ids and len(ids) == 1
    again.close()


def test_invalid_scenarios_name_the_place() -> None:
    cases = [({"steps": [{"send": {"channel": "fax", "body": "x"}}]}, "$.steps[0].send.channel"),
             ({"trigger": {"intent_above": 2}}, "$.trigger.intent_above"),
             ({"steps": [{"branch": {"if": "orders >=", "then": "x"}}]}, "$.steps[0].branch.if"),
             ({"steps": [{"goto": "nowhere"}]}, "$.steps[0].goto"),
             ({"steps": [{"split": {"A": "next"}}]}, "$.steps[0].split"),
             ({"trigger": {"event": "x", "date": {}}}, "$.trigger"),
             ({"policies": {"quiet_hours": [22]}}, "$.policies.quiet_hours"),
             ({"audience": "did viewed_product in 7d"}, "$.audience"),
             ({"steps": [{"wait": {"minutes": 0}}]}, "$.steps[0].wait")]
    for spec, path in cases:
        with pytest.raises(ScenarioError) as info:
            scenario(**spec)
        assert info.value.path == path, (spec, info.value)
    engine = embedded_with()
    with pytest.raises(ScenarioError) as info:
        engine.put_scenario(scenario(steps=[{"send": {"channel": "email", "template": "nope"}}]))
    assert info.value.path == "$.steps[0].send.template"


def test_ready_made_scenarios_run_on_simulated_traffic(engine_with: EngineWith) -> None:
    from intently.testing import Shop

    engine = engine_with(*ready_made().values())
    shop = Shop(users=300, days=20, seed=5)
    engine.process_many(shop.events())
    engine.tick(engine.clock.now() + 90 * DAY)
    by_scenario = {r[1] for r in engine.store.outbox(10_000)}
    assert {"welcome_series", "abandoned_cart", "repeat_purchase"} <= by_scenario


def test_messages_recommend_from_the_offer_rules() -> None:
    engine = embedded_with(scenario(trigger={"event": "purchased"}, steps=[{"send": {
        "channel": "email", "subject": "More",
        "body": "{% for p in recommendations %}[{{ p }}]{% endfor %}"}}]))
    engine.set_offer_rules([{"when": ["champagne", "candy"], "offer": "flowers"}])
    engine.process(identify("ann"))
    engine.process(track("Order Completed", user="ann", at=T0, revenue=40, products=[
        {"name": "champagne", "price": 30, "category": "drinks"},
        {"name": "candy", "price": 10, "category": "sweets"}]))
    import msgspec

    [row] = engine.store.outbox(10)
    assert msgspec.json.decode(row[10])["body"].startswith("[flowers]")


def test_goto_loops_stop_and_best_hour_send_time() -> None:
    looping = scenario(name="loop", steps=[{"id": "a", "goto": "b"}, {"id": "b", "goto": "a"}])
    engine = embedded_with(looping)
    engine.process(track("Product Viewed", user="ann", at=T0))
    assert journal(engine, "failed") == [("ann", "too many steps at once (a goto loop?)")]

    best = scenario(name="best", policies={"send_time": "best_hour", "quiet_hours": None,
                                           "spread": None})
    engine = embedded_with(best)
    engine.process(identify("bob", at=T0 - 5 * DAY))
    for day in range(1, 4):  # bob is active at 18:00 UTC
        engine.process(track("Page Viewed", user="bob", at=1_789_754_400.0 - day * DAY))
    engine.process(track("Product Viewed", user="bob", at=T0))  # 14:13 UTC
    assert sent(engine) == []
    engine.tick(T0 + DAY)
    [row] = engine.store.outbox(10)
    assert row[5] == 1_790_013_600.0  # 2026-09-21T18:00:00Z


def test_plain_text_skips_jinja_and_reads_as_jinja_would_render_it() -> None:
    from intently.profiles import Profile
    from intently.scenarios._content import Renderer, Tracker

    renderer = Renderer(Tracker("https://t.example", b"secret"))
    ctx = renderer.context(Profile(id="p"), 0.0, {})
    for text in ("Hello", "a < b & c", "", "x\ty", "  spaced  ", "üñí", "a\nb", "<b>hi</b>",
                 "ends\n", "crlf\r\nline", "{{ customer.first_name }}!"):
        jinja = renderer.env.render(renderer.env.from_string(text), ctx)
        assert renderer._render(text, ctx) == jinja, text


def test_a_template_is_given_tags_and_picks_only_when_it_may_read_them() -> None:
    """Tags and product picks cost as much as a render: a template gets them when it names
    them, or uses `customer` in any way that might reach them, and renders the same as with
    everything worked out."""
    from intently.profiles import Profile
    from intently.scenarios._content import Renderer, Tracker

    renderer = Renderer(Tracker("https://t.example", b"secret"))
    may = {
        "{{ customer.first_name }}": False, "{{ customer['orders'] }}": False, "Hi": False,
        "{{ customer.tags.lifecycle }}": True, "{{ customer['tags'] }}": True,
        "{{ customer }}": True, "{{ customer|attr('tags') }}": True,
        "{% set c = customer %}{{ c.first_name }}": True, "{{ customer[key] }}": True,
        "{% for k in customer %}{{ k }}{% endfor %}": True,
        "{{ customer.get('tags') }}": True, "{{ customer.items() | list }}": True,
        "{{ customer['get'] }}": False,
    }
    for text, tags in may.items():
        assert renderer.reads(text).tags is tags, text
    assert "recommendations" in renderer.reads(renderer.sources["accessories"]).names
    assert "recommendations" not in renderer.reads(renderer.sources["cart_reminder"]).names

    p = Profile(id="p")
    p.traits = {"first_name": "Ann", "email": "ann@example.com"}
    p.categories = {"shoes": 3, "bags": 1}
    asked: list[list[str]] = []

    def picks() -> list[str]:
        asked.append(["a"])
        return ["a", "b"]

    ref = {"m": "s/p/1/0/1", "p": "p", "c": "email", "a": "A"}
    for name in renderer.sources:
        args = {"channel": "email", "template": name,
                "subject": "{{ customer.tags.category_affinity }} for {{ customer.first_name }}"}
        for args_ in (args, {**args, "subject": "Hello"}):
            asked.clear()
            lazy = renderer.render(args_, p, 1.7e9, ref, {"items": []}, {"recommendations": picks})
            full = renderer.render(args_, p, 1.7e9, ref, {"items": [], "recommendations": picks()})
            assert lazy == full, name
            assert len(asked) == 1 + ("recommendations" in renderer.sources[name]), name
    assert renderer.render({"channel": "email", "subject": "{{ customer.tags.category_affinity }}",
                            "template": "welcome"}, p, 1.7e9, ref, {}).subject == "shoes"


def test_messages_ask_for_product_picks_only_for_templates_that_show_them() -> None:
    asked: dict[str, int] = {}
    for template in ("cart_reminder", "accessories"):
        engine = embedded_with(scenario(name=template, steps=[{"send": {
            "channel": "email", "subject": "Hi", "template": template}}]))
        book = engine.pipeline.scenarios
        assert book is not None

        def picks(items: list[str], p: Any, t: str = template) -> list[str]:
            asked[t] = asked.get(t, 0) + 1
            return ["socks"]

        book.recommend = picks
        engine.process(identify("ann"))
        engine.process(track("Product Viewed", user="ann", at=T0))
        [(_, _, body)] = [(r[2], r[4], msgspec.json.decode(r[10])["body"])
                          for r in engine.store.outbox(10)]
        assert ("socks" in body) is (template == "accessories")
    assert asked == {"accessories": 1}


def test_link_tokens_are_hmac_sha256_and_forgeries_are_refused() -> None:
    """Tokens in links already sent must keep reading: the signature is HMAC-SHA256 of the
    token's body, cut to 12 bytes, whatever the key's length."""
    import base64
    import hmac

    from intently._errors import ValidationError
    from intently.scenarios._content import Tracker

    for secret in (b"k", b"s" * 64, b"long" * 40):
        tracker = Tracker("https://t.example", secret)
        data = {"m": "welcome/p1/1/0/1", "p": "p1", "c": "email", "a": "A"}
        token = tracker.token(data)
        body, _, sig = token.partition(".")
        padded = body + "=" * (-len(body) % 4)
        want = hmac.digest(secret, padded.encode(), "sha256")[:12]
        assert base64.urlsafe_b64decode(sig) == want
        assert tracker.read(token) == data
        assert tracker.read(tracker.token(data)) == data  # the keyed state is reused intact
        with pytest.raises(ValidationError):
            Tracker("https://t.example", secret + b"x").read(token)
        with pytest.raises(ValidationError):
            tracker.read(body + "." + base64.urlsafe_b64encode(b"\0" * 12).decode())
