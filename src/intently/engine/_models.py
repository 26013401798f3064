"""The models in use: RFM and lifetime value (rules read `rfm.*`, `clv.*`) and the offer rules
(`ModelService`), and swapping the intent and cluster models with every record rescored at
once (`rescore`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..analytics.clv_live import CLVModel
from ..analytics.rfm import RFMModel
from ..decisions import Decider, load_decider, save_offer_rules
from ..intent import ClusterModel, IntentModel, IntentScorer, Journey
from ..profiles import Profile, permits
from ..segments import SegmentBook
from ..store import Catalog
from ._catalog import segment_book, stored_models
from ._runner import Runner


class ModelService:
    def __init__(self, catalog: Catalog, builtin_segments: bool) -> None:
        self.catalog = catalog
        self.builtin_segments = builtin_segments
        self.rfm: RFMModel | None
        self.clv: CLVModel | None
        self.rfm, self.clv = stored_models(catalog)
        self.decider: Decider = load_decider(catalog)

    def recommend(self, items: list[str], profile: Profile, limit: int = 3) -> list[str]:
        """Products to suggest after `items`: the offer rules' picks (written ones first, then
        mined basket rules by lift); with no items, the customer's favourite category. None
        for a customer who objected to personalization."""
        if not permits(profile, "personalization"):
            return []
        picks = [o["offer"] for o in self.decider.decide(items)["offers"]] if items else []
        if len(picks) < limit and profile.categories:
            top = max(profile.categories, key=profile.categories.__getitem__)
            picks.append(f"new in {top}")
        return picks[:limit]

    def reload(self) -> None:
        """Read the newest RFM, lifetime value and offer models from the catalog."""
        self.rfm, self.clv = stored_models(self.catalog)
        self.decider = load_decider(self.catalog)

    def segment_book(self) -> SegmentBook:
        """The catalog's segments, reading the models in use (`rfm.*`, `clv.*`)."""
        return segment_book(self.catalog, self.builtin_segments, self.rfm, self.clv)

    def set_offer_rules(self, rules: list[dict[str, Any]]) -> None:
        """Replace the written offer rules (validated) and use them at once."""
        save_offer_rules(self.catalog, rules)
        self.decider = load_decider(self.catalog)


def rescore(runner: Runner, intent: IntentModel, clusters: ClusterModel,
            journeys: Iterable[Journey] = ()) -> int:
    """Score with these models from now on, and bring every record up to them at once (after
    training, not at each one's next event): its cluster from its chain; its intent and key
    action from its current journey in `journeys` (the store's log cut into journeys, as
    training does), where one matches. Segments that read `intent` or `cluster` are
    re-evaluated. Returns how many records changed."""
    if runner.readonly:
        raise RuntimeError("this engine was opened read-only")
    pipeline = runner.pipeline
    pipeline.intent = IntentScorer(intent)
    pipeline.clusters = clusters
    latest: dict[str, Journey] = {}
    for journey in journeys:
        seen = latest.get(journey.customer)
        if seen is None or journey.start >= seen.start:
            latest[journey.customer] = journey
    book = pipeline.segments
    now = runner.clock.now()
    changed = 0
    for p in runner.all_profiles():
        before = (p.cluster, p.intent, p.intent_acc, p.key_action, p.key_delta, p.key_ts)
        if p.chain:
            p.cluster = clusters.assign(frozenset(p.chain))
        j = latest.get(p.id)
        if j is not None and j.start == p.journey_start:
            score = intent.final_state(j)
            p.intent, p.intent_acc = score.intent, score.intent_acc
            p.key_action, p.key_delta, p.key_ts = (score.key_action, score.key_delta,
                                                   score.key_ts)
        if before == (p.cluster, p.intent, p.intent_acc, p.key_action, p.key_delta, p.key_ts):
            continue
        changed += 1
        runner.changed(p, book.evaluate_some(p, book.compiled, now) if book.compiled else [],
                       now)
        if changed % 50_000 == 0:  # bounded memory on a large store
            runner.checkpoint()
    runner.checkpoint()
    return changed
