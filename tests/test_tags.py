"""Tags, the customer portrait: read off the record, moving with time, usable in rules."""

from __future__ import annotations

from conftest import HISTORY, T0, track
from intently import Engine, ManualClock
from intently.profiles import lifecycle, tag, tags
from intently.segments import Segment
from intently.store import MemoryStore

DAY = 86400.0


def test_portrait_of_a_bargain_hunter(engine: Engine) -> None:
    engine.process({**track("Product Viewed", user="u", at=T0, category="shoes"),
                    "context": {"timezone": "Europe/Berlin"}})
    engine.process(track("Order Completed", user="u", at=T0 + 60, revenue=40, discount=10))
    engine.process(track("Order Completed", user="u", at=T0 + DAY, revenue=30, coupon="X"))
    engine.process(track("Email Opened", user="u", at=T0 + 2 * DAY))
    engine.process(track("Email Link Clicked", user="u", at=T0 + 2 * DAY + 5))
    engine.process(track("Email Opened", user="u", at=T0 + 3 * DAY))
    engine.process(track("Email Opened", user="u", at=T0 + 3 * DAY + 60))
    engine.process(track("Email Opened", user="u", at=T0 + 3 * DAY + 120))
    engine.process(track("Order Completed", user="u", at=T0 + 4 * DAY, revenue=50))
    p = engine.profile("u")
    portrait = tags(p, T0 + 5 * DAY)
    assert portrait["category_affinity"] == "shoes"
    assert portrait["price_sensitivity"] == "high" and portrait["discount_share"] == 0.667
    assert portrait["preferred_channel"] == "email"  # 5 email events, 4 on the web
    assert portrait["best_send_hour"] == 16  # T0 is 14:13 UTC, 16:13 in Berlin
    assert portrait["lifecycle"] == "active"
    # one tag alone (a rule, a send at the best hour) is the portrait's, worked out alone
    assert {name: tag(p, name, T0 + 5 * DAY) for name in portrait} == portrait
    assert tag(p, "no such tag", T0) is None


def test_lifecycle_moves_with_time_and_a_return_is_a_win_back(engine: Engine) -> None:
    assert lifecycle(engine.process(track("Product Viewed", user="u", at=T0)).profile,  # type: ignore[union-attr]
                     T0) == "prospect"
    engine.process(track("Order Completed", user="u", at=T0, revenue=10))
    p = engine.profile("u")
    assert [lifecycle(p, T0 + d * DAY) for d in (1, 45, 90, 200)] == [
        "new", "active", "at risk", "lapsed"]
    engine.process(track("Order Completed", user="u", at=T0 + 200 * DAY, revenue=10))
    assert lifecycle(engine.profile("u"), T0 + 201 * DAY) == "won back"
    engine.process(track("Order Completed", user="u", at=T0 + 210 * DAY, revenue=10))
    assert lifecycle(engine.profile("u"), T0 + 211 * DAY) == "active"


def test_tags_in_rules_with_a_timer_for_the_lifecycle() -> None:
    clock = ManualClock(T0)
    engine = Engine(MemoryStore(), clock=clock, settings=HISTORY)
    engine.put_segment(Segment.from_text("at risk", 'tags.lifecycle = "at risk"'))
    engine.process(track("Order Completed", user="u", at=T0, revenue=10))
    assert engine.profile("u").segments == ()
    clock.advance(61 * DAY)
    assert [(c.segment, c.entered) for c in engine.tick()] == [("at risk", True)]
    clock.advance(60 * DAY)
    assert [(c.segment, c.entered) for c in engine.tick()] == [("at risk", False)]
