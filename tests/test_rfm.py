"""RFM: quintile cut points, scores that move with time, the named segments, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from conftest import T0, sqlite_engine, track
from intently.analytics import fit_rfm, segment_of
from intently.cli import app
from intently.profiles import Profile

DAY = 86400.0


def buyer(pid: str, days_ago: float, orders: int, revenue: float) -> Profile:
    p = Profile(id=pid)
    p.orders, p.revenue, p.last_order = orders, revenue, T0 - days_ago * DAY
    return p


def test_named_segments_follow_the_standard_map() -> None:
    assert segment_of(5, 5) == "champions"
    assert segment_of(5, 1) == "new customers"
    assert segment_of(1, 5) == "can't lose them"
    assert segment_of(1, 1) == "hibernating"
    assert segment_of(2, 4) == "at risk"
    assert segment_of(3, 3) == "need attention"
    assert segment_of(4, 4) == "loyal customers"


def test_quintiles_and_scores_that_move_with_time() -> None:
    people = [buyer(f"c{i}", days_ago=i, orders=1 + i // 20, revenue=10.0 * (i + 1))
              for i in range(100)] + [Profile(id="never")]
    model = fit_rfm(people, T0, "v1")
    assert model.customers == 100 and len(model.recency_days) == 4
    best = model.score(people[0], T0)
    worst = model.score(people[99], T0)
    assert best is not None and worst is not None
    assert (best.r, worst.r) == (5, 1) and worst.f == 5 and worst.m == 5
    assert model.score(people[-1], T0) is None  # never bought
    later = model.score(people[0], T0 + 120 * DAY)  # four months of silence
    assert later is not None and later.r == 1
    assert sum(model.metrics["segments"].values()) == 100


def test_cli_fits_and_profiles_show_the_score(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    engine = sqlite_engine(db)
    for i in range(30):
        for k in range(1 + i % 4):
            engine.process(track("Order Completed", user=f"u{i}", at=T0 - (i * 3 + k) * DAY,
                                 revenue=20.0 * (k + 1)))
    engine.close()
    runner = CliRunner()
    out = runner.invoke(app, ["rfm", "update", "--db", str(db), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["customers"] == 30
    shown = json.loads(runner.invoke(app, ["profile", "u0", "--db", str(db), "--json"]).stdout)
    assert shown["rfm"]["segment"] and len(shown["rfm"]["score"]) == 3


def test_rules_read_rfm_and_time_moves_customers_out(tmp_path: Path) -> None:
    from intently import ManualClock
    from intently.intent import save_model
    from intently.segments import Segment

    db = tmp_path / "s.db"
    clock = ManualClock(T0)
    engine = sqlite_engine(db, clock)
    people = [buyer(f"c{i}", days_ago=i, orders=1 + i // 20, revenue=10.0 * (i + 1))
              for i in range(100)]
    save_model(engine.store, fit_rfm(people, T0, "v1"), "rfm")
    engine.close()
    engine = sqlite_engine(db, clock)  # an engine started with an RFM model in the store
    engine.put_segment(Segment.from_text("recent", "rfm.r = 5"))
    engine.process(track("Order Completed", user="u", at=T0, revenue=50))
    assert engine.profile("u").segments == ("recent",)
    clock.advance(100 * DAY)
    assert [(c.segment, c.entered) for c in engine.tick()] == [("recent", False)]
    engine.close()


def test_scenario_audiences_and_branches_read_rfm(tmp_path: Path) -> None:
    """A scenario for recent buyers (`rfm.r = 5`) reaches them, with the model the engine
    started with and with one it reloads (`intently rfm update` in a running engine)."""
    from intently import ManualClock
    from intently.intent import save_model
    from intently.scenarios import Scenario

    db = tmp_path / "s.db"
    clock = ManualClock(T0)
    people = [buyer(f"c{i}", days_ago=i, orders=1 + i // 20, revenue=10.0 * (i + 1))
              for i in range(100)]
    recent = Scenario.from_dict({
        "name": "recent", "holdout": 0, "audience": "rfm.r = 5",
        "trigger": {"event": "purchased"}, "policies": {"quiet_hours": None},
        "steps": [{"branch": {"if": "rfm.r >= 4", "then": "next", "else": "exit"}},
                  {"update": {"traits": {"recent": True}}}]})
    engine = sqlite_engine(db, clock)
    engine.put_scenario(recent)
    engine.process(track("Order Completed", user="before", at=T0, revenue=50))
    assert engine.store.journal(limit=10) == []  # no model: no RFM scores, no one enters
    save_model(engine.store, fit_rfm(people, T0, "v1"), "rfm")
    engine.reload_models()
    engine.process(track("Order Completed", user="reloaded", at=T0, revenue=50))
    engine.close()
    engine = sqlite_engine(db, clock)  # started with the model in the store
    engine.process(track("Order Completed", user="started", at=T0, revenue=50))
    assert sorted((r[2], r[4]) for r in engine.store.journal(limit=10)) == [
        ("reloaded", "entered"), ("reloaded", "exited"),
        ("started", "entered"), ("started", "exited")]
    assert [engine.profile(u).traits.get("recent") for u in ("before", "reloaded", "started")
            ] == [None, True, True]
    engine.close()
