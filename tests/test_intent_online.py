"""The intent score on every event: the online scorer agrees with the offline model, the key
action is the event that raised the probability most, and trained models are used at once."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import HISTORY, T0, named_weights, track
from intently import Engine, ManualClock
from intently.cli import app
from intently.engine import journeys_from_events
from intently.engine._prior import build_prior, prior_journeys
from intently.intent import (
    IntentModel,
    features,
    load_prior,
    save_model,
    train,
    train_clusters,
)
from intently.profiles import category_key
from intently.segments import Segment
from intently.store import MemoryStore
from intently.testing import Shop

TOY = IntentModel(version="toy", bias=-2.0, count={"viewed_product": 0.2, "added_to_cart": 2.0,
                                                   "viewed_specs": 0.5},
                  last={"added_to_cart": 0.5}, recent={"viewed_specs": {"added_to_cart": 0.3}},
                  scalar={"log_events": 0.1, "log_minutes": -0.05, "log_gap": -0.1})


def toy_engine(model: IntentModel = TOY) -> Engine:
    return Engine(MemoryStore(), clock=ManualClock(T0), intent_model=model,
                  settings=HISTORY)


def test_online_scores_equal_the_offline_model_event_by_event() -> None:
    shop = Shop(users=80, days=10, seed=21)
    events = list(shop.events())
    journeys = journeys_from_events(events)
    model = train(journeys, source="test")
    engine = Engine(MemoryStore(), intent_model=model)
    seen: dict[tuple[str, float], list[float]] = {}

    def listen(batch: list) -> None:
        for item in batch:
            if item.signals and "purchased" not in item.signals:
                key = (item.profile.id, item.journey_start)
                seen.setdefault(key, []).append(item.intent)

    engine.listeners.append(listen)
    engine.process_many(events)
    assert model.category and any(c for j in journeys for c in j.categories)
    compared = 0
    for j in journeys:
        online = seen[(j.customer, j.start)]
        offline = model.probabilities(j)
        assert online == pytest.approx(offline, abs=1e-9)
        compared += len(offline)
    assert compared > 300


def test_features_and_weights_give_the_same_logit() -> None:
    journeys = journeys_from_events(Shop(users=40, days=5, seed=4).events())
    model = train(journeys * 2, source="test")  # enough journeys to train on
    weights = named_weights(model)
    assert model.category  # the simulator's items have categories: they are weighed
    for j in journeys[:30]:
        for e, p in enumerate(model.probabilities(j)):
            x = features(j, e, tables=model.propensity(), pair_signals=model.pair_signals)
            z = model.bias + sum(weights.get(name, 0.0) * v for name, v in x.items())
            assert 1 / (1 + math.exp(-z)) == pytest.approx(p, abs=1e-9)


def test_key_action_is_the_event_that_raised_intent_most() -> None:
    engine = toy_engine()
    at = T0
    steps = []
    for name in ("Product Viewed", "Product Specs Viewed", "Product Added", "Product Viewed"):
        at += 120
        done = engine.process(track(name, user="u", at=at))
        assert done is not None
        steps.append(done.profile.intent)
    p = engine.profile("u")
    rises = [b - a for a, b in zip([TOY.base_rate, *steps], steps, strict=False)]
    assert max(rises) == rises[2] > 0
    assert p.key_action == "added_to_cart" and p.key_ts == T0 + 360
    assert p.key_delta == pytest.approx(rises[2])
    # a purchase converts the journey; the key action stays; the next journey starts afresh
    engine.process(track("Order Completed", user="u", at=at + 60, revenue=10))
    assert engine.profile("u").intent == 1.0 and engine.profile("u").key_action == "added_to_cart"
    engine.process(track("Product Viewed", user="u", at=at + 120))
    p = engine.profile("u")
    assert p.chain == ["viewed_product"] and p.key_action == "viewed_product"
    assert p.intent == pytest.approx(TOY.base_rate + p.key_delta)


def test_the_category_of_the_item_looked_at_moves_the_score() -> None:
    model = IntentModel(version="cat", bias=-2.0, count={"viewed_product": 0.2},
                        category={"electronics": 1.5, "furniture": -0.5})
    engine = toy_engine(model)
    for user, props in (("phones", {"category": "Electronics > Phones"}),
                        ("sofas", {"category_code": "furniture.living_room.sofa"}),
                        ("unnamed", {}), ("unknown", {"category": "garden"})):
        engine.process(track("Product Viewed", user=user, at=T0, **props))
    base = model.base_rate
    phones, sofas = engine.profile("phones").intent, engine.profile("sofas").intent
    unnamed, unknown = engine.profile("unnamed").intent, engine.profile("unknown").intent
    assert unnamed == unknown > base  # no category, or one the model never saw: no weight
    assert phones == pytest.approx(1 / (1 + math.exp(2.0 - 0.2 * math.log(2) - 1.5)))
    assert sofas < unnamed < phones


def test_category_keys_are_the_top_level_in_lower_case() -> None:
    assert [category_key(c) for c in ("electronics.smartphone", "Home > Kitchen", " Toys/Lego",
                                      "beauty", ".odd", "", None)] == [
        "electronics", "home", "toys", "beauty", None, None, None]


def test_a_model_saved_before_categories_loads_and_weighs_none() -> None:
    saved = json.loads(TOY.to_json())
    del saved["category"]  # as versions stored before the feature wrote them
    old = IntentModel.from_json(json.dumps(saved))
    assert old.category == {} and old.logit(0.0, "viewed_product", None, 1, 0.0, 0.0,
                                            category="electronics") == TOY.logit(
        0.0, "viewed_product", None, 1, 0.0, 0.0)


def test_events_without_signals_leave_the_score_alone() -> None:
    engine = toy_engine()
    engine.process(track("Product Added", user="u", at=T0))
    before = engine.profile("u").intent
    engine.process({"type": "identify", "userId": "u", "timestamp": T0 + 5,
                    "traits": {"email": "u@x.com"}})
    assert engine.profile("u").intent == before


def test_the_prior_scores_before_any_training_and_matches_its_recipe() -> None:
    prior = load_prior()
    engine = Engine(MemoryStore(), clock=ManualClock(T0))
    assert engine.intent is not None and engine.intent.model.version == prior.version
    for i, name in enumerate(("Product Viewed", "Product Added", "Cart Viewed")):
        engine.process(track(name, user="buyer", at=T0 + i * 60))
    for i in range(3):
        engine.process(track("Products Searched", user="browser", at=T0 + i * 60))
    buyer, browser = engine.profile("buyer"), engine.profile("browser")
    assert buyer.intent > 2 * browser.intent and browser.intent < 0.2
    assert buyer.key_action == "added_to_cart"


@pytest.mark.slow
def test_the_shipped_prior_is_what_its_recipe_builds() -> None:
    """Rebuilt with whatever scikit-learn, numpy and BLAS are installed, the prior must be the
    same model: the same features, and the same scores within a tolerance that a solver's or a
    BLAS kernel's rounding stays far inside, while a changed recipe (simulator, features,
    regularization) does not. Exact weights differ between library releases and CPUs."""
    shipped = load_prior()
    journeys = prior_journeys()
    rebuilt = build_prior(journeys)  # else: python -m intently.engine._prior
    assert (rebuilt.version, rebuilt.source, rebuilt.event_cap) == (
        shipped.version, shipped.source, shipped.event_cap)
    for part in ("count", "last", "recent", "category", "scalar"):
        assert _keys(getattr(rebuilt, part)) == _keys(getattr(shipped, part)), part
    gaps = [abs(a - b) for j in journeys[::7]
            for a, b in zip(rebuilt.probabilities(j), shipped.probabilities(j), strict=True)]
    assert max(gaps) < 0.02 and sum(gaps) / len(gaps) < 0.002
    assert abs(rebuilt.metrics["auc"] - shipped.metrics["auc"]) < 0.005


def _keys(part: dict) -> object:
    return {k: _keys(v) if isinstance(v, dict) else None for k, v in part.items()}


def test_a_trained_model_in_the_store_is_used_at_once(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    engine = Engine(db, clock=ManualClock(T0))
    save_model(engine.store, TOY)
    engine.close()
    again = Engine(db, clock=ManualClock(T0))
    assert again.intent is not None and again.intent.model.version == "toy"
    again.close()


def test_cli_trains_from_the_store_and_from_a_file(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    csv = tmp_path / "shop.csv"
    Shop(users=400, days=20, seed=8).write(csv)
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(csv), "--db", db, "--json",
                               "--anonymous-col", "anonymous_id"]).exit_code == 0

    def journey() -> dict:
        shown = runner.invoke(app, ["profile", "c000003", "--db", db, "--json"])
        return json.loads(shown.stdout)["journey"]

    assert journey()["intent_model"] == "prior-2026"
    out = runner.invoke(app, ["intent", "train", "--db", db, "--json"])
    assert out.exit_code == 0, out.output
    stored = json.loads(out.stdout)
    assert stored["auc"] > 0.8 and stored["n_journeys"] > 100
    # every record is brought up to the new models at once, not at its next event
    assert stored["records_rescored"] > 100
    now = journey()
    assert now["intent_model"] == stored["version"]
    assert now["cluster"]["name"] in {c["name"] for c in stored["clusters"]}
    lines = csv.read_text().splitlines(keepends=True)
    older = tmp_path / "older.csv"  # other history than the store's: other weights
    older.write_text("".join(lines[: len(lines) * 2 // 3]))
    out = runner.invoke(app, ["intent", "train", str(older), "--anonymous-col",
                              "anonymous_id", "--db", db, "--json"])
    assert out.exit_code == 0, out.output
    from_file = json.loads(out.stdout)
    assert from_file["records_rescored"] > 100  # the store's own log gives the journeys
    assert 0.0 <= journey()["intent"] <= 1.0
    assert journey()["intent_model"] == from_file["version"]


def _scored(engine: Engine) -> dict[str, tuple]:
    return {p.id: (p.cluster, round(p.intent, 9), round(p.intent_acc, 9), p.key_action,
                   round(p.key_delta, 9), p.key_ts) for p in engine.all_profiles()}


def test_rescoring_leaves_records_as_if_the_new_models_had_scored_every_event() -> None:
    events = list(Shop(users=150, days=12, seed=33).events())
    journeys = journeys_from_events(events)
    model = train(journeys, source="test")
    groups = train_clusters(journeys, k=5, version=model.version, source="test")
    engine = Engine(MemoryStore(), clock=ManualClock(T0), settings=HISTORY)  # the prior's
    engine.put_segment(Segment.from_text("hot", 'intent > 0.5 and cluster != ""'))
    engine.process_many(events)
    before = _scored(engine)
    fresh = Engine(MemoryStore(), clock=ManualClock(T0), intent_model=model,
                   settings=HISTORY)
    fresh.rescore(model, groups)  # an empty store: only switches the models
    fresh.put_segment(Segment.from_text("hot", 'intent > 0.5 and cluster != ""'))
    fresh.process_many(events)
    changed = engine.rescore(model, groups, journeys)
    after = _scored(engine)
    assert after == _scored(fresh) and after != before
    assert changed == sum(after[k] != before[k] for k in after) > 100
    assert {p.id: p.segments for p in engine.all_profiles()} == {
        p.id: p.segments for p in fresh.all_profiles()}
    assert engine.intent is not None and engine.intent.model is model
    assert engine.rescore(model, groups, journeys) == 0  # nothing left to change
