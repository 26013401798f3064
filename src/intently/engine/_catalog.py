"""What the runtime reads from the catalog to build a pipeline: the segment and scenario books,
the stored RFM and lifetime value models (with the rule fields they add), the offer rules."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

from ..analytics.clv_live import CLVModel
from ..analytics.rfm import RFMModel
from ..profiles import Profile
from ..scenarios import Renderer, Scenario, ScenarioBook, Tracker
from ..segments import Field, Segment, SegmentBook, builtin_segments
from ..store import Catalog


def segment_book(catalog: Catalog, builtin: bool = False, rfm: RFMModel | None = None,
                 clv: CLVModel | None = None) -> SegmentBook:
    """The segments saved in the catalog, over the built-in ones when `builtin`; with an RFM
    model, rules can read `rfm.r`, `rfm.f`, `rfm.m`, `rfm.score` and `rfm.segment`; with a
    lifetime value model, `clv.p_alive`, `clv.expected_orders_90d` and `clv.value_90d`."""
    segments = {s.name: s for s in builtin_segments()} if builtin else {}
    for name, body in catalog.load_segments().items():
        segments[name] = Segment.from_json(json.loads(body))
    fields = rfm_fields(rfm) if rfm is not None else {}
    if clv is not None:
        fields.update(clv_fields(clv))
    return SegmentBook(segments, fields)


def secret(catalog: Catalog, readonly: bool = False) -> bytes:
    """The store's own secret (made on first use): it signs links and session tokens and keys
    the suppression list's digests and the pseudonyms. Read once per engine (a read-only
    engine on a store without one gets a random one, which must then be the same for all)."""
    found = catalog.get_meta("secret")
    if found is None:
        found = secrets.token_hex(32)
        if not readonly:
            catalog.set_meta("secret", found)
    return found.encode()


def tracker(base_url: str, key: bytes) -> Tracker:
    """Signs and reads link and session tokens with the store's secret `key`."""
    return Tracker(base_url.rstrip("/"), key)


def scenario_book(catalog: Catalog, tokens: Tracker, message_cap_per_day: int,
                  recommend: Callable[[list[str], Profile], list[str]] | None = None
                  ) -> ScenarioBook:
    scenarios = [Scenario.from_dict(json.loads(body))
                 for body in catalog.load_scenarios().values()]
    return ScenarioBook(scenarios, Renderer(tokens), message_cap_per_day=message_cap_per_day,
                        recommend=recommend)


def stored_models(catalog: Catalog) -> tuple[RFMModel | None, CLVModel | None]:
    rfm = catalog.load_model("rfm")
    clv = catalog.load_model("clv")
    return (RFMModel.from_json(rfm) if rfm is not None else None,
            CLVModel.from_json(clv) if clv is not None else None)


def clv_fields(model: CLVModel) -> dict[str, Field]:
    def reader(part: str) -> Callable[[Profile, float], object]:
        def read(p: Profile, now: float) -> object:
            score = model.score(p, now)
            return None if score is None else score[part]
        return read

    def wakeups(p: Profile, now: float, w: object) -> list[float]:
        # P(alive) and the expectations decay as time passes without an order: look daily
        return [now + 86400.0] if p.orders else []

    return {f"clv.{part}": Field(reader(part), frozenset({"purchased"}), wakeups)
            for part in ("p_alive", "expected_orders_90d", "value_90d")}


def rfm_fields(model: RFMModel) -> dict[str, Field]:
    def reader(part: str) -> Callable[[Profile, float], object]:
        def read(p: Profile, now: float) -> object:
            score = model.score(p, now)
            return None if score is None else score.to_json()[part]
        return read

    def wakeups(p: Profile, now: float, w: object) -> list[float]:
        # the recency score moves when the days since the last order cross a cut point
        return [p.last_order + d * 86400.0 + 1 for d in model.recency_days] if p.orders else []

    return {f"rfm.{part}": Field(reader(part), frozenset({"purchased"}), wakeups, exact=True)
            for part in ("r", "f", "m", "score", "segment")}
