"""Live segments: entries and exits on events, window expiry by timers on event time, member
lists that survive a restart, and the built-in segments on simulated traffic.

The tests that take `engine_with` run twice: on the embedded engine, and through a cluster
(a gateway, NATS, a worker on four partitions of PostgreSQL; `_cluster_engine`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from _cluster_engine import MODES, engines
from conftest import T0, sqlite_engine, track
from intently import Engine, ManualClock, Settings
from intently.segments import Change, Segment, builtin_segments, compile_rule, parse
from intently.store import MemoryStore
from intently.testing import Shop

HOUR = 3600.0
ABANDONED = Segment.from_text("abandoned", "did added_to_cart in 24h and no purchased in 24h")
BIG = Segment.from_text("big spenders", "revenue >= 100")
EngineWith = Callable[..., Any]


@pytest.fixture(params=MODES)
def engine_with(request: pytest.FixtureRequest) -> Iterator[EngineWith]:
    """`engine_with(*segments, clock=None)`: an engine with these segments defined."""
    with engines(request) as make:
        def made(*segments: Segment, clock: ManualClock | None = None) -> Any:
            engine = make(clock, None)
            for segment in segments:
                engine.put_segment(segment)
            return engine
        yield made


def test_entering_and_leaving_on_events(engine_with: EngineWith) -> None:
    engine = engine_with(BIG, ABANDONED)
    seen: list[Change] = []
    engine.change_listeners.append(seen.extend)
    engine.process(track("Product Added", user="u", at=T0, price=30))
    assert engine.profile("u").segments == ("abandoned",)
    engine.process(track("Order Completed", user="u", at=T0 + 600, revenue=120))
    assert engine.profile("u").segments == ("big spenders",)
    assert [(c.segment, c.entered, c.ts) for c in seen] == [  # segments in definition order
        ("abandoned", True, T0), ("big spenders", True, T0 + 600),
        ("abandoned", False, T0 + 600)]


def test_a_window_expiring_makes_the_customer_leave_without_an_event(
        engine_with: EngineWith) -> None:
    clock = ManualClock(T0)
    engine = engine_with(ABANDONED, clock=clock)
    engine.process(track("Product Added", user="u", at=T0))
    assert engine.profile("u").segments == ("abandoned",)
    clock.advance(23 * HOUR)
    assert engine.tick() == []
    clock.advance(2 * HOUR)  # no sleeps: the clock is skipped
    changes = engine.tick()
    assert [(c.profile_id, c.segment, c.entered, c.ts) for c in changes] == [
        ("u", "abandoned", False, T0 + 24 * HOUR)]
    assert engine.profile("u").segments == ()


def test_timers_fire_on_event_time_during_replay(engine_with: EngineWith) -> None:
    """A later event of someone else carries time past the window: the exit is dated at the
    window's end, exactly as a live run would have it. (In a cluster, event time moves per
    partition: "a" and "c" share partition 3 of 4.)"""
    engine = engine_with(ABANDONED)
    seen: list[Change] = []
    engine.change_listeners.append(seen.extend)
    engine.process_many([track("Product Added", user="a", at=T0),
                         track("Product Viewed", user="c", at=T0 + 30 * HOUR)])
    assert [(c.profile_id, c.entered, c.ts) for c in seen] == [
        ("a", True, T0), ("a", False, T0 + 24 * HOUR)]


def test_a_buyer_does_not_enter_high_intent_when_the_purchase_leaves_the_hour(
        engine_with: EngineWith) -> None:
    """A journey that ended in a purchase keeps its probability (1) until the next event: the
    built-in "high intent now" must not let the buyer in (for the seconds until "active in
    the last hour" ends too) when the purchase leaves its hour."""
    high = next(s for s in builtin_segments() if s.name == "high intent now")
    clock = ManualClock(T0)
    engine = engine_with(high, clock=clock)
    engine.process(track("Order Completed", user="u", at=T0, revenue=40))
    assert engine.profile("u").intent == 1.0
    clock.advance(2 * HOUR)
    assert engine.tick() == []
    assert engine.profile("u").segments == ()


def test_a_record_is_woken_only_when_time_changes_its_answer() -> None:
    """Wake-ups are checked ahead: who carted and then bought is never woken for a cart
    abandoners' rule (an hour later the purchase keeps them out, a day later the cart is
    gone); who only carted, once, an hour after, to enter."""
    text = ("did added_to_cart in 24h and no purchased in 24h "
            "and days_since_last_seen >= 0.0417")
    rule = compile_rule(parse(text))
    engine = Engine(MemoryStore())
    engine.put_segment(Segment.from_text("abandoners", text))
    engine.process(track("Product Added", user="u", at=T0, price=30))
    engine.process(track("Order Completed", user="u", at=T0 + 600, revenue=30))
    engine.process(track("Product Added", user="v", at=T0, price=30))
    bought, carted = engine.profile("u"), engine.profile("v")
    assert rule.next_change(bought, T0 + 600, bought.windows or {}, False) is None
    assert rule.next_change(carted, T0, carted.windows or {}, False) == pytest.approx(
        T0 + 0.0417 * 86400, abs=0.01)
    assert rule.next_change(carted, T0, carted.windows or {}, True) == pytest.approx(
        T0 + 24 * HOUR)  # a member leaves when the cart leaves the day


def test_a_merge_brings_the_other_records_history_into_its_segments() -> None:
    """A visitor who bought while anonymous and then signs in: the merged record is in the
    segments the two histories together make (sums and windowed conditions alike), and the
    anonymous record, merged away, leaves the segments it was in. (A cluster merges records
    that meet across partitions when one moves, and evaluates every segment then:
    `adopt_records`.)"""
    twice = Segment.from_text("bought twice this week", "did purchased at least 2 times in 7d")
    engine = Engine(MemoryStore())
    engine.put_segment(BIG)
    engine.put_segment(twice)
    seen: list[Change] = []
    engine.change_listeners.append(seen.extend)
    engine.process(track("Order Completed", anon="x", at=T0, revenue=120))
    engine.process(track("Order Completed", user="u", at=T0 + HOUR, revenue=10))
    assert engine.profile("x").segments == ("big spenders",)
    assert engine.profile("u").segments == ()
    engine.process({"type": "alias", "userId": "u", "previousId": "x", "messageId": "alias-1",
                    "timestamp": T0 + 2 * HOUR})
    merged = engine.profile("u")
    assert merged.revenue == 130 and merged.segments == ("big spenders", "bought twice this week")
    assert [(c.profile_id, c.segment, c.entered) for c in seen[-3:]] == [
        ("x", "big spenders", False), ("u", "big spenders", True),
        ("u", "bought twice this week", True)]
    engine.checkpoint()
    assert [m for m, _ in engine.store.segment_members("big spenders")] == ["u"]


def test_a_rule_on_a_signals_count_is_evaluated_on_that_signal_only() -> None:
    """`signals.viewed_product` moves with that signal alone: other events leave the rule be,
    and the customer enters on the view that makes the count."""
    rule = compile_rule(parse("signals.viewed_product >= 2 and orders = 0"))
    assert rule.triggers == {"viewed_product", "purchased"}
    engine = Engine(MemoryStore())
    engine.put_segment(Segment.from_text("lookers", "signals.viewed_product >= 2 and orders = 0"))
    engine.process(track("Product Viewed", user="u", at=T0))
    engine.process(track("Product Added", user="u", at=T0 + 60, price=10))
    assert engine.profile("u").segments == ()
    engine.process(track("Product Viewed", user="u", at=T0 + 120))
    assert engine.profile("u").segments == ("lookers",)
    engine.process(track("Order Completed", user="u", at=T0 + 180, revenue=10))
    assert engine.profile("u").segments == ()


def test_counting_conditions_with_properties(engine_with: EngineWith) -> None:
    shoes = Segment.from_text(
        "shoe browsers", 'did viewed_product with category = "shoes" at least 3 times in 7d '
        "and no purchased in 30d")
    engine = engine_with(shoes)
    for i in range(2):
        engine.process(track("Product Viewed", user="u", at=T0 + i * HOUR, category="shoes"))
    engine.process(track("Product Viewed", user="u", at=T0 + 3 * HOUR, category="bags"))
    assert engine.profile("u").segments == ()
    engine.process(track("Product Viewed", user="u", at=T0 + 4 * HOUR, category="shoes"))
    assert engine.profile("u").segments == ("shoe browsers",)
    windows = engine.profile("u").windows or {}  # only conditions that matched keep times
    assert list(windows) == ['did viewed_product with category = "shoes" in 7d']
    assert len(next(iter(windows.values()))) == 3


def test_a_new_segment_is_evaluated_for_everyone_and_removal_empties_it(
        engine_with: EngineWith) -> None:
    engine = engine_with()
    engine.process(track("Order Completed", user="rich", at=T0, revenue=500))
    engine.process(track("Order Completed", user="poor", at=T0, revenue=5))
    changes = engine.put_segment(BIG)
    assert [(c.profile_id, c.entered) for c in changes] == [("rich", True)]
    assert [m for m, _ in engine.store.segment_members("big spenders")] == ["rich"]
    left = engine.remove_segment("big spenders")
    assert [(c.profile_id, c.entered) for c in left] == [("rich", False)]
    assert engine.profile("rich").segments == ()


def test_members_changes_and_timers_survive_a_restart(db_path: Path) -> None:
    clock = ManualClock(T0)
    engine = sqlite_engine(db_path, clock)
    engine.put_segment(ABANDONED)
    engine.process(track("Product Added", user="u", at=T0))
    engine.close()
    again = sqlite_engine(db_path, clock)
    assert again.store.segment_members("abandoned")[0][0] == "u"
    clock.advance(25 * HOUR)
    assert [c.entered for c in again.tick()] == [False]
    again.checkpoint()
    assert again.store.segment_members("abandoned") == []
    log = again.store.segment_changes("abandoned")
    assert [(p, e, t) for p, e, t in log] == [("u", True, T0), ("u", False, T0 + 24 * HOUR)]
    again.close()


def test_builtin_segments_on_simulated_traffic() -> None:
    shop = Shop(users=400, days=30, seed=13)
    engine = Engine(MemoryStore(), settings=Settings(builtin_segments=True),
                    clock=ManualClock(shop.start + 31 * 86400))
    engine.process_many(shop.events())
    engine.tick()
    engine.checkpoint()
    sizes = engine.store.segment_sizes()
    for name in ("high value", "category browsers who do not buy", "recent first-time buyers",
                 "promotion responders"):
        assert sizes.get(name, 0) > 0, (name, sizes)
    assert sizes.get("churn risk", 0) == 0
    truth = shop.truth()
    browsers = [p for p, _ in engine.store.segment_members("category browsers who do not buy")]
    archetypes = {truth[p]["archetype"] for p in browsers if p in truth}
    assert "window_shopper" in archetypes and "loyal_regular" not in archetypes
    engine.tick(shop.start + 100 * 86400)  # two months of silence later
    engine.checkpoint()
    sizes = engine.store.segment_sizes()
    assert sizes.get("churn risk", 0) > 0 and sizes.get("recent first-time buyers", 0) == 0
    assert sizes.get("category browsers who do not buy", 0) == 0  # their week is long over


def test_cli_defines_lists_and_exports(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from intently.cli import app

    db = str(tmp_path / "c.db")
    engine = sqlite_engine(Path(db))
    engine.process(track("Order Completed", user="rich", at=T0, revenue=900))
    engine.close()
    runner = CliRunner()
    out = runner.invoke(app, ["segments", "add", "whales", "revenue >= 500", "--db", db,
                              "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["entered"] == 1
    bad = runner.invoke(app, ["segments", "add", "x", "revenue >=", "--db", db])
    assert bad.exit_code == 2 and "position 10" in bad.output
    listed = json.loads(runner.invoke(app, ["segments", "list", "--db", db, "--json"]).stdout)
    assert listed == [{"name": "whales", "text": "revenue >= 500",
                       "rule": {"field": "revenue", "op": ">=", "value": 500},
                       "description": "", "builtin": False, "size": 1}]
    csv_out = runner.invoke(app, ["segments", "members", "whales", "--format", "csv", "--db",
                                  db]).stdout
    assert csv_out.splitlines()[1].startswith("rich,")


def test_a_segment_added_later_counts_the_recent_past_from_the_log(
        engine_with: EngineWith) -> None:
    clock = ManualClock(T0 + 2 * HOUR)
    engine = engine_with(clock=clock)
    engine.process(track("Product Added", user="early", at=T0))
    engine.process(track("Product Added", user="old", at=T0 - 3 * 86400))
    engine.checkpoint()
    changes = engine.put_segment(ABANDONED)  # added after the fact
    assert [(c.profile_id, c.entered) for c in changes] == [("early", True)]
    assert engine.profile("early").windows  # the condition's times came from the log
    clock.advance(23 * HOUR)
    assert [(c.profile_id, c.entered) for c in engine.tick()] == [("early", False)]
    engine.close()


def test_events_of_ever_new_names_leave_the_rule_index_bounded() -> None:
    """Which rules an event re-evaluates is remembered per kind of event; event names come from
    clients, so what is remembered is bounded, and events past the bound are evaluated all the
    same."""
    engine = Engine(MemoryStore(), settings=Settings(builtin_segments=True))
    book = engine.pipeline.segments
    for i in range(5000):
        engine.process(track(f"Made Up {i}", user="u", at=T0 + i))
    assert len(book._picked) <= 4096
    engine.process(track("Order Completed", user="u", at=T0 + 6000, revenue=600))
    assert "high value" in engine.profile("u").segments
