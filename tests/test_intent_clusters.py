"""Behavioral clusters: learned from chains of signals, named, reassigned after every event."""

from __future__ import annotations

import json
import warnings
from collections import Counter, defaultdict

import pytest
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from conftest import T0, track
from intently import Engine, ManualClock
from intently.cli import app
from intently.engine import journeys_from_events
from intently.engine._prior import build_prior_clusters
from intently.intent import (
    Journey,
    load_prior_clusters,
    train_clusters,
)
from intently.store import MemoryStore
from intently.testing import Shop


def test_clusters_recover_the_simulators_archetypes() -> None:
    shop = Shop(users=1500, days=30, seed=31)  # not the prior's seed
    truth = shop.truth()
    journeys = journeys_from_events(shop.events())
    model = train_clusters(journeys, k=7, version="t", source="test")
    by_customer: dict[str, list[str]] = defaultdict(list)
    for j in journeys:
        by_customer[j.customer].append(model.assign(frozenset(j.signals[-24:])))
    pairs = [(truth[c]["archetype"], Counter(names).most_common(1)[0][0])
             for c, names in by_customer.items()]
    ari = adjusted_rand_score(*zip(*pairs, strict=True))
    assert ari >= 0.7, ari


def test_each_cluster_has_a_readable_name_size_and_conversion_rate() -> None:
    model = load_prior_clusters()
    names = [c.name for c in model.clusters]
    assert len(set(names)) == len(names) == model.metrics["k"]
    assert sum(c.size for c in model.clusters) == model.metrics["n_journeys"]
    research = next(c for c in model.clusters if "watch the video" in c.name)
    assert "share" in research.name and research.conversion_rate > 0.5
    assert "watch the video" in research.description and "convert" in research.description
    browsing = next(c for c in model.clusters if c.name.startswith("search"))
    assert browsing.conversion_rate < 0.1


def test_a_history_with_few_kinds_of_chain_gets_as_many_clusters_none_empty() -> None:
    # Views and carts only (as REES46 has): three sets of signals, so at most three clusters.
    journeys = [Journey(f"c{i}", float(i), signals=chain, converted=i % 5 == 0)
                for i, chain in enumerate([["viewed_product"] * 3, ["added_to_cart"],
                                           ["viewed_product", "added_to_cart"]] * 20)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no empty clusters, no mean of an empty slice
        model = train_clusters(journeys, k=7, version="t", source="test")
    assert model.metrics["k"] == len(model.clusters) == 3
    assert all(c.size == 20 for c in model.clusters)
    one = train_clusters(journeys[:1] * 4, k=7, version="t", source="test")
    assert [c.size for c in one.clusters] == [4]


def test_the_cluster_is_reassigned_as_the_chain_grows() -> None:
    engine = Engine(MemoryStore(), clock=ManualClock(T0))
    seen: list[str | None] = []
    engine.listeners.append(lambda done: seen.extend(d.cluster for d in done))
    for i, name in enumerate(("Product Viewed", "Video Playback Started",
                              "Product Specs Viewed", "Product Shared")):
        engine.process(track(name, user="researcher", at=T0 + i * 60))
    assert seen[0] != seen[-1]  # a change of cluster, visible to listeners
    assert "watch the video" in (seen[-1] or "")
    assert engine.profile("researcher").cluster == seen[-1]
    for i, name in enumerate(("Products Searched", "Product List Viewed", "Product Viewed")):
        engine.process(track(name, user="browser", at=T0 + i * 60))
    assert (engine.profile("browser").cluster or "").startswith("search")


@pytest.mark.slow
def test_the_shipped_clusters_match_their_recipe() -> None:
    rebuilt = json.loads(build_prior_clusters().to_json())
    shipped = json.loads(load_prior_clusters().to_json())
    assert rebuilt["signals"] == shipped["signals"]
    assert [c["name"] for c in rebuilt["clusters"]] == [c["name"] for c in shipped["clusters"]]


def test_cli_lists_clusters() -> None:
    out = CliRunner().invoke(app, ["intent", "clusters", "--json", "--db", "/nonexistent.db"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert len(data["clusters"]) == data["metrics"]["k"]


def test_after_every_event_the_cluster_is_that_of_the_whole_chain() -> None:
    """Merges included: a record that takes in another's chain is reassigned, even when the
    event that merged them (an identify call) has no signal of its own."""
    engine = Engine(MemoryStore(), clock=ManualClock(T0))
    # a known customer and an anonymous visitor, each with a journey; then the visitor signs
    # in as that customer: the two records merge on an event whose signal both chains had
    known = [track("Product Viewed", user="ann", at=T0 + i * 60) for i in range(2)]
    visitor = [track(name, anon="dev-1", at=T0 + 120 + i * 60) for i, name in enumerate(
        ("Products Searched", "Product List Viewed", "Product Viewed"))]
    sign_in = track("Product Viewed", user="ann", anon="dev-1", at=T0 + 400)
    # the same, with the sign-in an identify call (no signal of its own)
    bob = [{**ev, "userId": "bob", "anonymousId": None} for ev in known]
    bob = [{k: v for k, v in ev.items() if v is not None} for ev in bob]
    visitor_2 = [{**ev, "anonymousId": "dev-2"} for ev in visitor]
    identify = {"type": "identify", "userId": "bob", "anonymousId": "dev-2",
                "timestamp": T0 + 500, "traits": {"plan": "gold"}}
    events = [*known, *visitor, sign_in, *bob, *visitor_2, identify,
              *Shop(users=150, days=10, seed=5).events()]
    for ev in events:
        done = engine.process(ev)
        assert done is not None
        p = done.profile
        assert p.cluster == engine.clusters.assign(frozenset(p.chain)), (p.id, p.chain)
    assert engine.store.merges(engine.profile("ann").id) or engine.merges(engine.profile("ann"))
