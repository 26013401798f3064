"""The engine: one deterministic pipeline per event, group-committed to an append-only log.

    event -> validate & dedupe -> resolve identity -> signals -> update golden record
          -> (later stages: intent, clusters, segments, scenarios) -> effects

Durability: a batch's events are appended and committed before `process_many` returns, so an
acknowledged event is never lost. State (records, identities) lives in memory and is written at
checkpoints; opening an engine loads the last checkpoint and replays the log after it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import msgspec

from .._errors import NotFound, PayloadTooLarge, ValidationError
from ..analytics.clv_live import CLVModel
from ..analytics.rfm import RFMModel
from ..clock import Clock, SystemClock
from ..config import Settings
from ..decisions import load_decider, save_offer_rules
from ..events import Event, Vocabulary, as_validation_error, filed_time
from ..events.signals import PURCHASED, action_of
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
from ..profiles import Aggregator, Merge, Profile, RecordSettings, Resolver
from ..scenarios import Effects, Scenario
from ..segments import Change, Counters, Did, Segment, counter_key
from ..store import (
    Account,
    AccountUpdate,
    JournalEntry,
    LogTransaction,
    OutboxRow,
    Store,
    StoredEvent,
    open_store,
)
from ._scenarios import PREFIX as SCENARIO_TIMER
from ._scenarios import ScenarioRuntime
from ._scenarios import load_book as load_scenarios
from ._segments import ChangeListener, SegmentRuntime, load_book
from ._state import HotState

_encode = msgspec.json.Encoder().encode
_decode_event = msgspec.json.Decoder(Event).decode
_decode_events = msgspec.json.Decoder(list[Event]).decode
_convert = msgspec.convert


@dataclass(slots=True)
class Processed:
    """What one event did: the record it landed on, its signals (derived ones included), and
    the record's journey and purchase probability right after it (the record itself may have
    moved on by the time a listener looks)."""

    event: Event
    profile: Profile
    signals: tuple[str, ...]
    journey_start: float
    intent: float
    cluster: str | None


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    first_seq: int = 0
    last_seq: int = 0
    duplicate_at: set[int] = field(default_factory=set)
    processed: list[Processed] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.first_seq = self.first_seq or other.first_seq
        self.last_seq = other.last_seq or self.last_seq
        self.processed.extend(other.processed)


Listener = Callable[[list[Processed]], None]
_log = logging.getLogger("intently.engine")


class _PipelineFailure(Exception):
    """The pipeline failed on event `index` of a batch (the batch is rolled back)."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


def as_event(item: Event | dict[str, Any] | bytes, path: str | int = "$") -> Event:
    """Validate one event given as an Event, a Segment-format dict or JSON bytes. `path` says
    where it sits, for errors: a JSONPath, or an index into a list (`$[3]`)."""
    return decode_event(item, path)[0]


def decode_event(item: Event | dict[str, Any] | bytes, path: str | int = "$"
                 ) -> tuple[Event, bool]:
    """`as_event`, and whether JSON bytes given can be stored as they are: not when nulls had
    to be dropped to read them (`"properties": null`, as some libraries send)."""
    root = f"$[{path}]" if isinstance(path, int) else path
    try:
        if isinstance(item, Event):
            return item, True
        if isinstance(item, bytes | bytearray | memoryview):
            try:
                return _decode_event(item), True
            except msgspec.ValidationError:
                data = msgspec.json.decode(item)
                if not isinstance(data, dict) or not _drop_nulls(data):
                    raise
                return _convert(data, Event), False
        if isinstance(item, dict) and _drop_nulls(item):
            item = {k: v for k, v in item.items() if v is not None}
        return _convert(item, Event), True
    except msgspec.MsgspecError as exc:
        raise as_validation_error(exc, root) from None
    except RecursionError:
        raise ValidationError("nested too deeply", root) from None


_NULLABLE = ("properties", "traits", "context")


def _drop_nulls(data: dict[str, Any]) -> bool:
    """Remove top-level nulls (null is as good as absent). Whether any was removed."""
    nulls = [k for k in _NULLABLE if k in data and data[k] is None]
    for k in nulls:
        del data[k]
    return bool(nulls)


def _validated(items: list[Any], offset: int) -> tuple[list[Event], list[bytes | None]]:
    """Events and, for those given as JSON bytes, the bytes (stored as received). A batch of
    JSON is decoded in one call; if that fails, one at a time, to name the bad one."""
    if all(type(item) is bytes for item in items):
        try:
            events = _decode_events(b"[" + b",".join(items) + b"]")
        except (msgspec.MsgspecError, RecursionError):
            events = []
        if len(events) == len(items):
            return events, items
    events = []
    raws: list[bytes | None] = []
    for i, item in enumerate(items):
        event, exact = decode_event(item, offset + i)
        events.append(event)
        raws.append(item if exact and type(item) is bytes else None)
    return events, raws


def _stored(row: StoredEvent) -> Event:
    """An event back from the log; its times are the columns' (the payload may be raw)."""
    try:
        ev = _decode_event(row[3])
    except msgspec.ValidationError:  # stored as received, with nulls
        ev = decode_event(row[3], "$")[0]
    ev.ts = row[1]
    ev.received_at = row[2]
    return ev


def _account_update(ev: Event) -> AccountUpdate:
    """A group call: the account's traits (moved aside on decode) and who joined it."""
    traits = ev.properties.get("group_traits")
    member = f"u:{ev.user_id}" if ev.user_id else f"a:{ev.anonymous_id}"
    return AccountUpdate(str(ev.group_id), traits if isinstance(traits, dict) else {}, ev.ts,
                         member)


def _segment_timers(timers: dict[str, float]) -> dict[str, float]:
    return {k: d for k, d in timers.items() if not k.startswith(SCENARIO_TIMER)}


class Engine:
    """Runs the pipeline over a store. Single-threaded: one engine owns its store for writing
    (use `EngineWorker` to share it between threads)."""

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
        self.settings = settings = settings or Settings()
        if store is None:
            store = settings.db
        self.store: Store = (
            store if not isinstance(store, str | Path)
            else open_store(store, durability=settings.durability, readonly=readonly)
        )
        self.readonly = readonly
        self.clock = clock or SystemClock()
        self.vocabulary = vocabulary or (
            Vocabulary.from_file(settings.vocabulary) if settings.vocabulary
            else Vocabulary(return_gap_hours=settings.return_gap_hours)
        )
        record = RecordSettings(
            session_gap_s=settings.session_gap_minutes * 60.0,
            journey_gap_s=settings.journey_gap_hours * 3600.0,
            return_gap_s=self.vocabulary.return_gap_s,
        )
        self.aggregator = Aggregator(record)
        self.state = HotState(self.store, capacity=settings.cache_profiles)
        self.resolver = Resolver(self.state, chain_limit=record.chain_limit)
        self.intent: IntentScorer | None = None
        self.clusters: ClusterModel | None = None
        if intent_model is not False:
            model = intent_model if isinstance(intent_model, IntentModel) else (
                load_model(self.store) or load_prior())
            self.intent = IntentScorer(model)
            self.clusters = load_clusters(self.store) or load_prior_clusters()
        self.rfm: RFMModel | None
        self.clv: CLVModel | None
        self.rfm, self.clv = self._stored_models()
        timers = self.store.load_timers()
        self.segments = SegmentRuntime(
            load_book(self.store, settings.builtin_segments, self.rfm, self.clv),
            _segment_timers(timers))
        self.decider = load_decider(self.store)
        self.scenarios = ScenarioRuntime(
            load_scenarios(self.store, settings.base_url, settings.message_cap_per_day,
                           readonly, self.recommend), timers)
        self.listeners: list[Listener] = []
        self.change_listeners: list[ChangeListener] = []
        self.events_processed = 0
        self.events_set_aside = len(self.store.set_aside_seqs())
        self._stored = -1  # events in the log, counted once when first asked
        self.messages_queued = 0
        self._ids = map(f"ik-{os.urandom(6).hex()}-{{}}".format, count())  # for events with none
        self._since_checkpoint = 0
        self._checkpointed_at = time.monotonic()
        self._seq = 0
        self.recovered = self._recover()

    # -- the public verbs
    def process(self, event: Event | dict[str, Any] | bytes) -> Processed | None:
        """Process one event durably. Returns None for a duplicate messageId."""
        result = self.process_many([event], keep=True)
        return result.processed[0] if result.processed else None

    def process_many(self, events: Iterable[Event | dict[str, Any] | bytes], *,
                     keep: bool = False) -> IngestResult:
        """Process events in group commits of `settings.batch_size`. Every event is validated
        first; a ValidationError names the index of the bad one and nothing of its batch is
        kept. With `keep`, the result lists what each event did."""
        total = IngestResult()
        size = self.settings.batch_size
        items: list[Event | dict[str, Any] | bytes] = []
        offset = 0
        for item in events:
            items.append(item)
            if len(items) >= size:
                total.add(self.commit_batch(*_validated(items, offset), keep=keep))
                offset += len(items)
                items = []
        if items:
            total.add(self.commit_batch(*_validated(items, offset), keep=keep))
        return total

    def commit_batch(self, batch: list[Event], raws: Sequence[bytes | None] | None = None, *,
                     keep: bool = False) -> IngestResult:
        """One group commit of validated events: dedupe, pipeline, append, commit.

        `raws[i]`, when given, is event i's JSON exactly as received; it is stored as is
        instead of encoding the event again (unless the engine had to fill in its messageId)."""
        if self.readonly:
            raise RuntimeError("this engine was opened read-only")
        now = self.clock.now()
        max_bytes = self.settings.max_event_bytes
        ids = self._ids
        mids = []
        payloads = []
        future_s = self.settings.future_tolerance_seconds
        first = self._seq + 1
        orders: list[tuple[str, int]] = []
        for i, ev in enumerate(batch):  # all checks before any state changes
            if not ev.received_at:  # (set already when a batch is retried in parts)
                ev.received_at = now
                ev.ts = filed_time(ev, now, future_s)  # a native call (Event's is not)
            raw = raws[i] if raws is not None else None
            if not ev.message_id:
                ev.message_id = next(ids)
                raw = None
            mids.append(ev.message_id)
            payload = raw if raw is not None else _encode(ev)
            if "order_id" in ev.properties:
                order = self._order_of(ev)
                if order is not None:
                    orders.append((order, first + i))
            if len(payload) > max_bytes:
                raise PayloadTooLarge(
                    f"event is {len(payload)} bytes, over the {max_bytes}-byte limit", f"$[{i}]")
            payloads.append(payload)
        store = self.store
        result = IngestResult(first_seq=first)
        done: list[Processed] = result.processed
        wanted = keep or bool(self.listeners)
        pending_before = len(self.segments.pending)
        tx = store.transaction()
        try:
            dupes = tx.claim(mids, first)
            if orders:  # the same order sent twice (a browser and a server, say) counts once
                orders = [(o, seq) for o, seq in orders if seq - first not in dupes]
                dupes |= {seq - first for seq in tx.claim_orders(orders)}
            rows = []
            accounts: list[AccountUpdate] = []
            for i, ev in enumerate(batch):
                if dupes and i in dupes:
                    continue
                try:
                    profile, signals = self._apply(ev)  # a direct call when compiled
                except Exception as exc:  # a defect or a value validation let through
                    raise _PipelineFailure(i, exc) from exc
                prev = int(profile.last_seq)  # each event points back to its record's last one
                profile.last_seq = float(first + i)
                rows.append((first + i, profile.id, ev.ts, now, payloads[i], prev))
                if ev.type == "group" and ev.group_id:
                    accounts.append(_account_update(ev))
                if wanted:
                    done.append(Processed(ev, profile, signals, profile.journey_start,
                                          profile.intent, profile.cluster))
            tx.append(rows)
            if accounts:
                tx.put_accounts(accounts)
            effects = self.scenarios.book.effects
            if effects:
                self._put_effects(tx, effects.take())
            tx.commit()
        except BaseException as exc:
            tx.rollback()
            self._reload()  # memory may hold effects of the rolled-back batch
            if isinstance(exc, _PipelineFailure):
                return self._set_aside(batch, payloads, exc, keep)
            raise
        self._seq = first + len(batch) - 1
        result.accepted = len(rows)
        result.duplicates = len(dupes)
        result.duplicate_at = dupes
        result.last_seq = self._seq
        self.events_processed += len(rows)
        if self._stored >= 0:
            self._stored += len(rows)
        self._since_checkpoint += len(rows)
        if self.listeners and done:
            for listener in self.listeners:
                listener(done)
        if self.change_listeners and self.segments.pending:
            fresh = self.segments.pending[pending_before:]
            if fresh:
                for change_listener in self.change_listeners:
                    change_listener(fresh)
        if not keep:
            result.processed = []
        self.maybe_checkpoint()
        return result

    def _order_of(self, ev: Event) -> str | None:
        """The order id of a purchase (by the vocabulary's signals), else None."""
        order = ev.properties["order_id"]
        if order is None or order == "" or type(order) is bool:
            return None
        if PURCHASED not in self.vocabulary.signals_for(ev, action_of(ev)):
            return None
        return str(order)

    def _set_aside(self, batch: list[Event], payloads: list[bytes], failure: _PipelineFailure,
                   keep: bool) -> IngestResult:
        """Commit the batch with event `failure.index` logged but set aside (not applied),
        with its error: the client's events are all kept, and the engine goes on."""
        i = failure.index
        error = f"{type(failure.error).__name__}: {failure.error}"[:2000]
        _log.error("event set aside: the pipeline failed on it", extra={
            "message_id": batch[i].message_id, "error": error})
        result = IngestResult()
        if i:
            result.add(self.commit_batch(batch[:i], payloads[:i], keep=keep))
        result.duplicate_at = set(result.duplicate_at) if i else set()
        ev = batch[i]
        seq = self._seq + 1
        store = self.store
        with store.transaction() as tx:
            dupes = tx.claim([ev.message_id or ""], seq)
            if not dupes:
                tx.append([(seq, "", ev.ts, ev.received_at, payloads[i], 0)])
                tx.set_aside(seq, error, ev.received_at)
        if dupes:
            result.duplicates += 1
            result.duplicate_at.add(i)
        else:
            self._seq = seq
            result.accepted += 1
            self.events_set_aside += 1
            if self._stored >= 0:
                self._stored += 1
        if i + 1 < len(batch):
            rest = self.commit_batch(batch[i + 1:], payloads[i + 1:], keep=keep)
            result.add(rest)
            result.duplicate_at.update(d + i + 1 for d in rest.duplicate_at)
        result.last_seq = self._seq
        return result

    def _apply(self, ev: Event) -> tuple[Profile, tuple[str, ...]]:
        """The pure part of the pipeline: state in, state out, no I/O of its own."""
        segments = self.segments
        scenarios = self.scenarios
        ts = ev.ts  # never past the receive time by more than the tolerance: timers follow
        if (segments.heap and segments.heap[0][0] <= ts) or (  # time, not a client's claim
                scenarios.heap and scenarios.heap[0][0] <= ts):
            self._fire(ts)
        resolver = self.resolver
        merges = len(resolver.merges)
        profile = resolver.resolve(ev)
        name = action_of(ev)
        signals = self.aggregator.update(profile, ev, self.vocabulary.signals_for(ev, name), name)
        intent_before, cluster_before = profile.intent, profile.cluster
        if self.intent is not None:
            self.intent.score(profile, signals, ts, ev.properties)
        clusters = self.clusters
        # the cluster follows the chain: new signals, or a merge that blended two chains
        if clusters is not None and (signals or len(resolver.merges) != merges):
            cluster = clusters.assign(frozenset(profile.chain))
            if cluster is not cluster_before:
                profile.cluster = cluster
        changes = segments.on_event(profile, ev, signals) if segments.book.compiled else []
        seg = profile.seg
        if scenarios.active or (seg is not None and seg.sc is not None):
            scenarios.on_event(profile, ev, signals, changes, intent_before, cluster_before)
        self.state.dirty.add(profile.id)
        return profile, signals

    def _fire(self, until: float) -> list[Change]:
        """Fire segment and scenario timers due by `until`, in time order between the two."""
        state = self.state

        def get(pid: str) -> Profile | None:
            return None if pid in state.dropped else state.peek_or_load(pid)

        def touched(p: Profile) -> None:
            state.dirty.add(p.id)

        changes: list[Change] = []
        segments, scenarios = self.segments, self.scenarios
        while True:
            seg = segments.heap[0][0] if segments.heap else None
            sc = scenarios.heap[0][0] if scenarios.heap else None
            nxt = min((t for t in (seg, sc) if t is not None and t <= until), default=None)
            if nxt is None:
                return changes
            if seg is not None and seg <= nxt:
                fired = segments.fire(nxt, get, touched)
                changes.extend(fired)
                if fired and scenarios.active:  # segment entries and exits start scenarios
                    for c in fired:
                        p = get(c.profile_id)
                        if p is not None:
                            scenarios.book.on_segment_change(p, c)
                            scenarios.schedule(p)
            if sc is not None and sc <= nxt:
                scenarios.fire(nxt, get, touched)

    def put_segment(self, segment: Segment) -> list[Change]:
        """Add or replace a segment, save it, and evaluate every record against it now."""
        if self.readonly:
            raise RuntimeError("this engine was opened read-only")
        self.store.save_segment(segment.name, json.dumps(segment.to_json()).encode())
        book = self.segments.book
        counting = {counter_key(d) for c in book.compiled.values() for d in c.counters}
        book.put(segment)
        fresh = {d for d in book.compiled[segment.name].counters if counter_key(d) not in counting}
        if fresh:
            self._count_history(fresh)
        return self._backfill(lambda p, now: book.evaluate_one(p, segment.name, now))

    def _count_history(self, conditions: set[Did]) -> None:
        """Fill new windowed conditions from the log, so a segment added today already knows
        who added to the cart yesterday. (Derived signals, such as a return after a gap, are
        only counted from now on: the log keeps raw events.)"""
        windows = [d.within_s for d in conditions]
        since = 0.0 if None in windows else self.clock.now() - max(w or 0 for w in windows)
        counters = Counters(conditions)
        vocabulary = self.vocabulary
        for rows in self.store.events_since(since):
            for record_id, payload in rows:
                profile = self.find(record_id)
                if profile is None:
                    continue
                ev = _decode_event(payload)
                if counters.update(profile, ev, vocabulary.signals_for(ev)):
                    self.state.adopt(profile)

    def remove_segment(self, name: str) -> list[Change]:
        """Delete a segment: its members leave it now."""
        if self.readonly:
            raise RuntimeError("this engine was opened read-only")
        self.store.save_segment(name, None)
        book = self.segments.book
        found = book.remove(name)
        if not found:
            raise NotFound(f"no segment {name!r}")
        return self._backfill(lambda p, now: book.leave(p, name, now))

    def all_profiles(self) -> Iterator[Profile]:
        """Every record: the cached ones, then the stored ones not in the cache (read from the
        store without filling the cache)."""
        state = self.state
        yield from list(state.profiles.values())
        offset = 0
        while True:
            ids = self.store.profile_ids(limit=1000, offset=offset)
            if not ids:
                return
            offset += len(ids)
            for pid in ids:
                if pid not in state.profiles and pid not in state.dropped:
                    profile = state.peek(pid)
                    if profile is not None:
                        yield profile

    def _backfill(self, apply: Callable[[Profile, float], list[Change]]) -> list[Change]:
        now = self.clock.now()
        changes: list[Change] = []
        for profile in self.all_profiles():
            found = apply(profile, now)
            if found:
                changes.extend(found)
                self.segments.pending.extend(found)
                self.state.adopt(profile)  # changed: keep it until the checkpoint writes it
            self.segments.reschedule(profile, now)
        self.checkpoint()
        return changes

    def _put_effects(self, tx: LogTransaction, effects: Effects) -> None:
        """The messages and journal rows the scenarios produced, with the events' transaction."""
        encode = _encode
        tx.put_effects(
            [OutboxRow(m.id, m.scenario, m.profile_id, m.arm, m.channel, m.due, encode(m))
             for m in effects.messages],
            [JournalEntry(r.id, r.scenario, r.profile_id, r.arm, r.kind, r.ts, r.value, r.ref)
             for r in effects.journal])
        self.messages_queued += len(effects.messages)

    def _flush_effects(self) -> None:
        """Commit effects made outside a batch (timers fired by the clock, a replay)."""
        effects = self.scenarios.book.effects
        if not effects or self.readonly:
            effects.take()
            return
        with self.store.transaction() as tx:
            self._put_effects(tx, effects.take())

    def recommend(self, items: list[str], profile: Profile, limit: int = 3) -> list[str]:
        """Products to suggest after `items`: the offer rules' picks (written ones first, then
        mined basket rules by lift); with no items, the customer's favourite category."""
        picks = [o["offer"] for o in self.decider.decide(items)["offers"]] if items else []
        if len(picks) < limit and profile.categories:
            top = max(profile.categories, key=profile.categories.__getitem__)
            picks.append(f"new in {top}")
        return picks[:limit]

    def _stored_models(self) -> tuple[RFMModel | None, CLVModel | None]:
        rfm = self.store.load_model("rfm")
        clv = self.store.load_model("clv")
        return (RFMModel.from_json(rfm) if rfm is not None else None,
                CLVModel.from_json(clv) if clv is not None else None)

    def reload_models(self) -> None:
        """Use the newest RFM, lifetime value and offer models in the store: profiles show
        them and rules read `rfm.*` and `clv.*` from now on."""
        self.rfm, self.clv = self._stored_models()
        self.segments.book = load_book(self.store, self.settings.builtin_segments, self.rfm,
                                       self.clv)
        self.decider = load_decider(self.store)

    def rescore(self, intent: IntentModel, clusters: ClusterModel,
                journeys: Iterable[Journey] = ()) -> int:
        """Score with these models from now on, and bring every record up to them at once
        (after training, not at each one's next event): its cluster from its chain; its
        intent and key action from its current journey in `journeys` (the store's log cut into
        journeys, as training does), where one matches. Segments that read `intent` or
        `cluster` are re-evaluated. Returns how many records changed."""
        if self.readonly:
            raise RuntimeError("this engine was opened read-only")
        self.intent = IntentScorer(intent)
        self.clusters = clusters
        latest: dict[str, Journey] = {}
        for journey in journeys:
            seen = latest.get(journey.customer)
            if seen is None or journey.start >= seen.start:
                latest[journey.customer] = journey
        book = self.segments.book
        now = self.clock.now()
        changed = 0
        for p in self.all_profiles():
            before = (p.cluster, p.intent, p.intent_acc, p.key_action, p.key_delta, p.key_ts)
            if p.chain:
                p.cluster = clusters.assign(frozenset(p.chain))
            j = latest.get(p.id)
            if j is not None and j.start == p.journey_start:
                score = intent.final_state(j)
                p.intent, p.intent_acc = score.intent, score.intent_acc
                p.key_action, p.key_delta, p.key_ts = (score.key_action, score.key_delta,
                                                       score.key_ts)
            if before == (p.cluster, p.intent, p.intent_acc, p.key_action, p.key_delta,
                          p.key_ts):
                continue
            changed += 1
            found = book.evaluate_some(p, book.compiled, now) if book.compiled else []
            self.segments.pending.extend(found)
            self.state.adopt(p)  # changed: keep it until the checkpoint writes it
            self.segments.reschedule(p, now)
            if changed % 50_000 == 0:  # bounded memory on a large store
                self.checkpoint()
        self.checkpoint()
        return changed

    def set_offer_rules(self, rules: list[dict[str, Any]]) -> None:
        """Replace the written offer rules (validated) and use them at once."""
        save_offer_rules(self.store, rules)
        self.decider = load_decider(self.store)

    def put_scenario(self, scenario: Scenario) -> None:
        """Add or replace a scenario; it acts on events from now on."""
        if self.readonly:
            raise RuntimeError("this engine was opened read-only")
        self.scenarios.book.renderer_check(scenario)
        self.store.save_scenario(scenario.name, json.dumps(scenario.to_json()).encode())
        self.scenarios.book.put(scenario)

    def remove_scenario(self, name: str) -> None:
        """Delete a scenario: its journeys stop at their next step."""
        if self.readonly:
            raise RuntimeError("this engine was opened read-only")
        if not self.scenarios.book.remove(name):
            raise NotFound(f"no scenario {name!r}")
        self.store.save_scenario(name, None)

    def tick(self, now: float | None = None) -> list[Change]:
        """Fire segment and scenario timers due by `now` (the clock's time by default):
        customers leave "cart abandoners" when the day passes, with no event of theirs, and a
        reminder goes out three hours after an abandoned cart. Returns the segment changes."""
        changes = self._fire(self.clock.now() if now is None else now)
        self._flush_effects()
        if changes:
            for listener in self.change_listeners:
                listener(changes)
        return changes

    # -- reads
    @property
    def last_seq(self) -> int:
        """The log position of the last committed event."""
        return self._seq

    def events_stored(self) -> int:
        """Events in the log (duplicates are not stored, so not counted)."""
        if self._stored < 0:
            self._stored = self.store.count_events()
        return self._stored

    def find(self, identifier: str) -> Profile | None:
        """A record by record id, userId, anonymousId, email, phone, or the id of a record
        that was merged into it."""
        state = self.state
        candidates = [identifier, state.lookup("u:" + identifier), state.lookup("a:" + identifier),
                      state.lookup("e:" + identifier.lower()), state.lookup("p:" + identifier),
                      state.lookup("m:" + identifier)]
        for pid in candidates:
            profile = state.peek(pid) if pid is not None else None
            if profile is not None:
                return profile
        return None

    def profile(self, identifier: str) -> Profile:
        found = self.find(identifier)
        if found is None:
            raise NotFound(f"no customer {identifier!r}")
        return found

    def timeline(self, profile: Profile, limit: int = 100) -> list[Event]:
        """The record's newest events, merged identities included, newest first."""
        ids = [profile.id, *profile.merged_from]
        merged = set(ids)  # merges not yet checkpointed (the store knows the others)
        pending = [m.head for m in self.resolver.merges if m.from_id in merged]
        heads = [int(profile.last_seq), *pending]
        return [_stored(row) for row in self.store.timeline(ids, limit, heads)]

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
        pending = [m for m in self.resolver.merges if m.into_id == profile.id]
        return done + pending

    def settle(self) -> None:
        """Write pending segment entries and exits (member lists are kept at checkpoints), so
        what the store's read models show is up to date."""
        if self.segments.pending:
            self.checkpoint()

    def peek(self, profile_id: str) -> Profile | None:
        """A record by its id, without making it recent in the cache."""
        return self.state.peek(profile_id)

    @property
    def profiles_cached(self) -> int:
        return len(self.state.profiles)

    def hot_profiles(self) -> Iterator[Profile]:
        return iter(self.state.profiles.values())

    # -- checkpoints and recovery
    def maybe_checkpoint(self) -> None:
        s = self.settings
        if self._since_checkpoint >= s.checkpoint_events or self.state.over_capacity() or (
            self._since_checkpoint
            and time.monotonic() - self._checkpointed_at >= s.checkpoint_seconds
        ):
            self.checkpoint()

    def checkpoint(self) -> None:
        """Write changed records, identities and merges; recovery replays from here."""
        if self.readonly:
            return
        changes, timers = self.segments.flush()
        timers.update(self.scenarios.flush_timers())
        self.state.checkpoint(self._seq, self.resolver.merges, changes, timers)
        self.resolver.merges = []
        self.state.evict()
        self._since_checkpoint = 0
        self._checkpointed_at = time.monotonic()

    def _recover(self) -> int:
        """Load from the last checkpoint and replay the log after it. Returns events replayed."""
        start = self.store.checkpoint_seq()
        skip = self.store.set_aside_seqs(start)
        replayed = 0
        for rows in self.store.read_log(after=start):
            for row in rows:
                if skip and row.seq in skip:
                    continue
                try:
                    profile, _ = self._apply(_stored(row))
                except Exception as exc:  # stored by an older version, or a defect
                    if self.readonly:
                        raise
                    return self._set_aside_stored(row, exc)
                profile.last_seq = float(row.seq)
                replayed += 1
        self._seq = self.store.last_seq()
        self._flush_effects()  # the same ids as before the crash: the store keeps each once
        if replayed and not self.readonly:
            self.checkpoint()
        return replayed

    def _set_aside_stored(self, row: StoredEvent, exc: Exception) -> int:
        """A logged event fails on replay: set it aside and recover again without it, so a
        restart never halts on one event."""
        error = f"{type(exc).__name__}: {exc}"[:2000]
        _log.error("event set aside during recovery", extra={"seq": row.seq, "error": error})
        self.events_set_aside += 1
        with self.store.transaction() as tx:
            tx.set_aside(row.seq, error, self.clock.now())
        self._reload()
        return self.recovered

    def _reload(self) -> None:
        self.state.clear()
        self.resolver.merges = []
        timers = self.store.load_timers()
        self.segments.reset(_segment_timers(timers))
        self.scenarios.reset(timers)
        self.recovered = self._recover()

    def close(self) -> None:
        if not self.readonly:
            self.checkpoint()
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
