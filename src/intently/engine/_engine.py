"""The engine: a runner over a store, built from `Settings`, with the services the surfaces use
(segments, scenarios, models) and the reads they show. Surfaces go through its verbs, never
its parts.

    Engine = Runner (group commit, checkpoints, recovery)
             + Pipeline (the pure per-event core, over the runner's HotState)
             + SegmentService, ScenarioService, ModelService, rescore
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .._errors import NotFound
from ..analytics.clv_live import CLVModel
from ..analytics.rfm import RFMModel
from ..clock import Clock, SystemClock
from ..config import Settings
from ..decisions import Decider
from ..events import Event, Vocabulary, from_log
from ..intent import (
    ClusterModel,
    IntentModel,
    IntentScorer,
    Journey,
    load_clusters,
    load_model,
    load_prior,
    load_prior_clusters,
)
from ..profiles import Merge, Profile, RecordSettings
from ..scenarios import Scenario, Tracker
from ..segments import Change, Segment
from ..store import Account, Catalog, Outbox, ReadModels, Store, open_store, sealing_store
from ._catalog import scenario_book, secret, tracker
from ._models import ModelService, rescore
from ._pipeline import Pipeline
from ._privacy import PrivacyService
from ._runner import Runner
from ._scenarios import ScenarioService
from ._segments import SegmentService
from ._state import HotState
from ._users import Users


def record_settings(settings: Settings, vocabulary: Vocabulary) -> RecordSettings:
    return RecordSettings(
        session_gap_s=settings.session_gap_minutes * 60.0,
        journey_gap_s=settings.journey_gap_hours * 3600.0,
        return_gap_s=vocabulary.return_gap_s,
    )


def vocabulary_of(settings: Settings) -> Vocabulary:
    return (Vocabulary.from_file(settings.vocabulary) if settings.vocabulary
            else Vocabulary(return_gap_hours=settings.return_gap_hours))


class Engine(Runner):
    """Everything that runs events, over one store. Single-threaded: one engine owns its store
    for writing (use `EngineWorker` to share it between threads)."""

    def __init__(
        self,
        store: Store | str | Path | None = None,
        *,
        settings: Settings | None = None,
        clock: Clock | None = None,
        vocabulary: Vocabulary | None = None,
        readonly: bool = False,
        intent_model: IntentModel | bool | None = None,
    ) -> None:
        """`intent_model`: the model to score with; None loads the latest trained one from the
        store, or the shipped prior; False turns scoring off."""
        settings = settings or Settings()
        if store is None:
            store = settings.db
        if isinstance(store, str | Path):
            store = open_store(store, durability=settings.durability, readonly=readonly)
        store = sealing_store(store, settings.encryption_keys, readonly)
        self.vocabulary = vocabulary = vocabulary or vocabulary_of(settings)
        scorer: IntentScorer | None = None
        clusters: ClusterModel | None = None
        if intent_model is not False:
            model = intent_model if isinstance(intent_model, IntentModel) else (
                load_model(store) or load_prior())
            scorer = IntentScorer(model)
            clusters = load_clusters(store) or load_prior_clusters()
        self.models = models = ModelService(store, settings.builtin_segments)
        key = secret(store, readonly)
        self.tracker: Tracker = tracker(settings.base_url, key)
        """Signs and reads link and session tokens (the API checks them with it)."""
        scenarios = scenario_book(store, self.tracker, settings.message_cap_per_day,
                                  models.recommend)
        state = HotState(store, capacity=settings.cache_profiles)
        pipeline = Pipeline(
            state, vocabulary, record_settings(settings, vocabulary), intent=scorer,
            clusters=clusters,
            segments=models.segment_book(),
            scenarios=scenarios, timers=store.load_timers())
        scenarios.use_fields(pipeline.segments.fields)
        self._segments = SegmentService(self)
        self._scenarios = ScenarioService(self, scenarios)
        super().__init__(store, state, pipeline, settings, clock or SystemClock(), key,
                         readonly)
        self.privacy = PrivacyService(self)
        """Erasure, suppression and the privacy journal."""
        self.users = Users(store, self.privacy.audit, self.clock)
        """The dashboard's users (name, role, password)."""

    # -- the models in use
    @property
    def intent(self) -> IntentScorer | None:
        return self.pipeline.intent

    @property
    def clusters(self) -> ClusterModel | None:
        return self.pipeline.clusters

    @property
    def rfm(self) -> RFMModel | None:
        return self.models.rfm

    @property
    def clv(self) -> CLVModel | None:
        return self.models.clv

    @property
    def decider(self) -> Decider:
        return self.models.decider

    def reload_models(self) -> None:
        """Use the newest RFM, lifetime value and offer models in the store: profiles show
        them and rules read `rfm.*` and `clv.*` from now on."""
        self.models.reload()
        self.pipeline.segments = book = self.models.segment_book()
        if self.pipeline.scenarios is not None:
            self.pipeline.scenarios.use_fields(book.fields)

    def rescore(self, intent: IntentModel, clusters: ClusterModel,
                journeys: Iterable[Journey] = ()) -> int:
        """Score with these models from now on and bring every record up to them at once."""
        return rescore(self, intent, clusters, journeys)

    def set_offer_rules(self, rules: list[dict[str, Any]]) -> None:
        self.models.set_offer_rules(rules)

    def recommend(self, items: list[str], profile: Profile, limit: int = 3) -> list[str]:
        return self.models.recommend(items, profile, limit)

    # -- segments and scenarios
    @property
    def segment_definitions(self) -> dict[str, Segment]:
        """The live segments by name (built-in ones included when on)."""
        return self.pipeline.segments.segments

    def put_segment(self, segment: Segment) -> list[Change]:
        """Add or replace a segment, save it, and evaluate every record against it now."""
        return self._segments.put(segment)

    def remove_segment(self, name: str) -> list[Change]:
        """Delete a segment: its members leave it now."""
        return self._segments.remove(name)

    @property
    def scenario_definitions(self) -> dict[str, Scenario]:
        """The scenarios by name."""
        return self._scenarios.book.scenarios

    def put_scenario(self, scenario: Scenario) -> None:
        """Add or replace a scenario; it acts on events from now on."""
        self._scenarios.put(scenario)

    def remove_scenario(self, name: str) -> None:
        """Delete a scenario: its journeys stop at their next step."""
        self._scenarios.remove(name)

    # -- reads
    @property
    def catalog(self) -> Catalog:
        """Definitions, models and settings kept in the store."""
        return self.store

    @property
    def outbox(self) -> Outbox:
        """Messages waiting for their channel (what the dispatcher claims)."""
        return self.store

    @property
    def store_url(self) -> str:
        return self.store.url

    @property
    def read_models(self) -> ReadModels:
        """Timelines, segment members and changes, the outbox and journal, accounts, as of
        the last commit (segment changes: as of the last checkpoint; `settle` first)."""
        return self.store

    def profile(self, identifier: str) -> Profile:
        found = self.find(identifier)
        if found is None:
            raise NotFound(f"no customer {identifier!r}")
        return found

    def timeline(self, profile: Profile, limit: int = 100) -> list[Event]:
        """The record's newest events, merged identities included, newest first."""
        ids = [profile.id, *profile.merged_from]
        merged = set(ids)  # merges not yet checkpointed (the store knows the others)
        pending = [m.head for m in self.pipeline.resolver.merges if m.from_id in merged]
        heads = [int(profile.last_seq), *pending]
        return [from_log(row.payload, row.ts, row.received_at)
                for row in self.store.timeline(ids, limit, heads)]

    def account(self, account_id: str) -> Account:
        """An account (a `group` call's company or household), as of the last commit."""
        found = self.store.account(account_id)
        if found is None:
            raise NotFound(f"no account {account_id!r}")
        return found

    def members(self, account: Account) -> list[Profile]:
        """The records of the people who joined `account` (merged people count once)."""
        found: dict[str, Profile] = {}
        for key, _since in account.members:
            pid = self.state.lookup(key)
            profile = self.state.peek(pid) if pid is not None else None
            if profile is not None:
                found.setdefault(profile.id, profile)
        return list(found.values())

    def accounts_of(self, profile: Profile) -> list[str]:
        """The accounts a record's people joined."""
        return self.store.accounts_of(profile.identities)

    def merges(self, profile: Profile) -> list[Merge]:
        done = self.store.merges(profile.id)
        pending = [m for m in self.pipeline.resolver.merges if m.into_id == profile.id]
        return done + pending

    def settle(self) -> None:
        """Write pending segment entries and exits (member lists are kept at checkpoints), so
        what the store's read models show is up to date."""
        if self.pipeline.pending or self._held:
            self.checkpoint()

    @property
    def profiles_cached(self) -> int:
        return len(self.state.profiles)

    def hot_profiles(self) -> Iterator[Profile]:
        return iter(self.state.profiles.values())

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
