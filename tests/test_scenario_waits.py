"""Inactivity waits that the scenario would refuse when they fall due are held without a timer
and asked again whenever the record changes: the customer enters exactly when a wake-up would
have let them in, and a record no scenario would take is never woken for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import HISTORY, T0, sqlite_engine, track
from intently import Engine, ManualClock
from intently.scenarios import Scenario
from intently.store import MemoryStore
from test_scenarios import DAY, EngineWith, engine_with, identify, sent

__all__ = ["engine_with"]  # the fixture: each test that takes it runs embedded and in a cluster


def browsing(audience: str, name: str = "browse") -> Scenario:
    return Scenario.from_dict({
        "name": name, "holdout": 0, "audience": audience,
        "trigger": {"inactivity": {"after": "viewed_product", "without": "purchased",
                                   "hours": 24}},
        "policies": {"quiet_hours": None},
        "steps": [{"send": {"channel": "email", "subject": "Picked for you", "body": "x"}}]})


def waits(engine: Any, user: str) -> tuple[dict[str, float], dict[str, float]]:
    """The record's scenario timers and its held waits."""
    sc = engine.profile(user).sc
    return (dict(sc.pending), dict(sc.held)) if sc is not None else ({}, {})


def test_a_wait_the_audience_refuses_sets_no_timer() -> None:
    """A buyer who views a product is held (no timer: `orders = 0` says no whenever the wait
    falls due); a visitor is held until the third view, then gets the timer, due a day after
    that view; only the visitor is sent to, and the held wait goes once it is past."""
    engine = Engine(MemoryStore(), clock=ManualClock(T0), settings=HISTORY)
    engine.put_scenario(browsing("orders = 0 and signals.viewed_product >= 3"))
    for user in ("buyer", "looker"):
        engine.process(identify(user))
    engine.process(track("Order Completed", user="buyer", at=T0, revenue=20))
    engine.process(track("Product Viewed", user="buyer", at=T0 + 60))
    assert waits(engine, "buyer") == ({}, {"browse": T0 + 60 + DAY})
    for i in range(2):
        engine.process(track("Product Viewed", user="looker", at=T0 + 60 * i))
    assert waits(engine, "looker") == ({}, {"browse": T0 + 60 + DAY})
    engine.process(track("Product Viewed", user="looker", at=T0 + 120))
    assert waits(engine, "looker") == ({"browse": T0 + 120 + DAY}, {})
    engine.tick(T0 + 2 * DAY)
    assert sent(engine) == [("looker", "email", "Picked for you")]
    engine.process(track("Page Viewed", user="buyer", at=T0 + 2 * DAY))
    assert waits(engine, "buyer") == ({}, {})


def test_a_held_wait_enters_when_a_later_event_opens_the_audience(
        engine_with: EngineWith) -> None:
    """The view is held (not a VIP yet); an hour later the customer becomes one: the wait
    gets its timer and the message goes when the wait falls due, a day after the view."""
    engine = engine_with(browsing("traits.vip = true"))
    engine.process(identify("ann"))
    engine.process(track("Product Viewed", user="ann", at=T0))
    engine.process(identify("ann", at=T0 + 3600, vip=True))
    engine.tick(T0 + DAY - 1)
    assert sent(engine) == []
    engine.tick(T0 + DAY)
    assert sent(engine) == [("ann", "email", "Picked for you")]
    assert engine.store.outbox(10)[0][5] == T0 + DAY


def test_the_audience_is_asked_as_of_when_the_wait_falls_due(engine_with: EngineWith) -> None:
    """`days_since_first_seen >= 1` is false at the view and true a day later: the wait gets
    its timer at once, and the customer enters when it falls due."""
    engine = engine_with(browsing("days_since_first_seen >= 1"))
    engine.process(identify("ann"))
    engine.process(track("Product Viewed", user="ann", at=T0))
    engine.tick(T0 + DAY)
    assert sent(engine) == [("ann", "email", "Picked for you")]


def test_a_replaced_scenario_asks_again_about_the_waits_it_held(
        engine_with: EngineWith) -> None:
    engine = engine_with(browsing("orders >= 5"))
    engine.process(identify("ann"))
    engine.process(track("Product Viewed", user="ann", at=T0))
    engine.put_scenario(browsing("orders = 0"))
    engine.tick(T0 + DAY)
    assert sent(engine) == [("ann", "email", "Picked for you")]


def test_a_merge_asks_again_about_the_other_records_held_waits() -> None:
    """An anonymous visitor's view is held (no VIP trait); the visitor signs in as a VIP: the
    merged record takes the wait over, and it lets them in when it falls due."""
    engine = Engine(MemoryStore(), clock=ManualClock(T0), settings=HISTORY)
    engine.put_scenario(browsing("traits.vip = true"))
    engine.process(track("Product Viewed", anon="x", at=T0))
    engine.process(identify("ann", at=T0 + 60, vip=True))
    engine.process({"type": "alias", "userId": "ann", "previousId": "x", "messageId": "a-1",
                    "timestamp": T0 + 120})
    assert waits(engine, "ann") == ({"browse": T0 + DAY}, {})
    engine.tick(T0 + DAY)
    assert sent(engine) == [("ann", "email", "Picked for you")]


def test_held_waits_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    engine = sqlite_engine(path)
    engine.put_scenario(browsing("traits.vip = true"))
    engine.process(identify("ann"))
    engine.process(track("Product Viewed", user="ann", at=T0))
    engine.close()
    engine = sqlite_engine(path)
    assert waits(engine, "ann") == ({}, {"browse": T0 + DAY})
    engine.process(identify("ann", at=T0 + 60, vip=True))
    engine.tick(T0 + DAY)
    assert sent(engine) == [("ann", "email", "Picked for you")]
    engine.close()


def test_a_wait_held_by_a_live_journey_gets_its_timer_when_the_journey_ends(
        engine_with: EngineWith) -> None:
    """One live journey per scenario: a view during the journey sets a wait that the journey
    would refuse, so it is held; the journey's last step ends it before the wait falls due,
    and the customer enters again when it does."""
    clock = ManualClock(T0)
    engine = engine_with(Scenario.from_dict({
        "name": "browse", "holdout": 0,
        "trigger": {"inactivity": {"after": "viewed_product", "without": "purchased",
                                   "hours": 1}},
        "policies": {"quiet_hours": None},
        "steps": [{"wait": {"minutes": 30}},
                  {"send": {"channel": "email", "subject": "Picked for you", "body": "x"}}]}),
        clock=clock)
    engine.process(identify("ann"))
    engine.process(track("Product Viewed", user="ann", at=T0))
    clock.advance(4200)
    engine.tick()  # entered at T0 + 1 h: its message goes half an hour later
    engine.process(track("Product Viewed", user="ann", at=T0 + 4200))
    clock.advance(3600)
    engine.tick()
    assert sorted(r[5] for r in engine.store.journal(limit=20) if r[4] == "entered") == [
        T0 + 3600, T0 + 7800]
