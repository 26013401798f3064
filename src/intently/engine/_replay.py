"""Replaying events through the pipeline in memory, with no store: what training learns from
and what the dashboard's intent history shows. The same code as the live run, so training sees
exactly the signals, identities and journeys the engine produces (derived signals included)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..clock import Clock, SystemClock
from ..config import Settings
from ..events import Event, Vocabulary, decode_batch
from ..events.signals import PURCHASED
from ..intent import IntentModel, IntentScorer, Journey
from ..profiles import bought, cart_after, category_key, category_of, item_price, line_value
from ._engine import record_settings, vocabulary_of
from ._pipeline import Pipeline, Processed
from ._state import MemoryState


def replay(events: Iterable[Event | dict[str, Any] | bytes], settings: Settings | None = None,
           *, intent_model: IntentModel | None = None, vocabulary: Vocabulary | None = None,
           clock: Clock | None = None) -> Iterator[Processed]:
    """What each event does, in order, as the engine would apply it to an empty store: filed
    as the engine files them, a messageId or purchase order id seen before is skipped. Scores
    with `intent_model` (none: no scoring); no segments, scenarios or clusters."""
    settings = settings or Settings()
    vocabulary = vocabulary or vocabulary_of(settings)
    pipeline = Pipeline(MemoryState(), vocabulary, record_settings(settings, vocabulary),
                        intent=IntentScorer(intent_model) if intent_model else None)
    now = (clock or SystemClock()).now()
    seen: set[str] = set()
    orders: set[str] = set()
    batch: list[Any] = []
    offset = 0
    ids = map("replay-{}".format, range(1 << 62))  # for events with no messageId
    for item in events:
        batch.append(item)
        if len(batch) < 1000:
            continue
        yield from _apply(pipeline, decode_batch(batch, offset)[0], now, seen, orders, ids,
                          settings)
        offset += len(batch)
        batch = []
    if batch:
        yield from _apply(pipeline, decode_batch(batch, offset)[0], now, seen, orders, ids,
                          settings)


def _apply(pipeline: Pipeline, batch: list[Event], now: float, seen: set[str],
           orders: set[str], ids: Iterator[str], settings: Settings) -> Iterator[Processed]:
    _, _, found = pipeline.prepare(batch, None, now, 0, ids,
                                   future_s=settings.future_tolerance_seconds,
                                   max_bytes=settings.max_event_bytes)
    order_at = {i: order for order, i in found}
    for i, ev in enumerate(batch):
        mid = ev.message_id or ""
        order = order_at.get(i)
        if mid in seen or (order is not None and order in orders):
            continue
        seen.add(mid)
        if order is not None:
            orders.add(order)
        profile, signals = pipeline.apply(ev)
        yield Processed(ev, profile, signals, profile.journey_start, profile.intent,
                        profile.cluster, pipeline.aggregator.item_view)


def journeys_from_events(events: Iterable[Any], settings: Settings | None = None
                         ) -> list[Journey]:
    """Replay events (Segment dicts, Events or JSON bytes) through the pipeline and cut the
    stream into journeys: a purchase ends one (and labels it), as the engine's journey
    boundaries do."""
    open_journeys: dict[tuple[str, float], Journey] = {}
    done: list[Journey] = []
    for item in replay(events, settings):
        signals = item.signals
        key = (item.profile.id, item.journey_start)
        journey = open_journeys.get(key)
        if journey is None:
            journey = open_journeys[key] = Journey(item.profile.id, item.journey_start)
            done.append(journey)
        if PURCHASED in signals:
            journey.converted = True
            journey.purchase_at = item.event.ts
            props = item.event.properties
            for bought_item, category in bought(props, category_of(props)):
                journey.buy(bought_item, category)
            del open_journeys[key]
        elif signals and not journey.converted:
            props = item.event.properties
            cart = journey.carts[-1] if journey.carts else 0.0
            journey.add(item.event.ts, signals, item_price(props),
                        cart_after(cart, signals, line_value(props)),
                        category_key(category_of(props)), item.item)
    journeys = [j for j in done if j.signals]
    journeys.sort(key=lambda j: (j.start, j.customer))
    return journeys
