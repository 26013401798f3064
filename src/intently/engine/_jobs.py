"""Batch jobs on the engine's own data: RFM cut points, lifetime value, basket rules. The CLI
and the API both run them here; the engine uses what they fit at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..analytics.clv_live import CLVModel, fit_clv
from ..analytics.rfm import RFMModel, fit_rfm
from ..profiles import Profile, permits

if TYPE_CHECKING:
    from ._engine import Engine


def _version() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def rfm_view(model: RFMModel) -> dict[str, Any]:
    return {"version": model.version, "customers": model.customers,
            "cuts": {"recency_days": model.recency_days, "frequency": model.frequency,
                     "monetary": model.monetary}, **model.metrics}


def clv_view(model: CLVModel) -> dict[str, Any]:
    return {"version": model.version, "customers": model.customers,
            "bgnbd": vars(model.bgnbd), "gamma_gamma": vars(model.gamma_gamma)}


def analysable(engine: Engine) -> Iterator[Profile]:
    """Every record whose customer did not object to analytics (consent per purpose); events
    go on being committed while it is read (a fit over a moving population, as any)."""
    return (p for p in engine.all_profiles(let_through=True) if permits(p, "analytics"))


def update_rfm(engine: Engine) -> RFMModel:
    """Fit RFM cut points on every customer who bought, keep them, and use them now.
    ValueError when nobody has bought yet."""
    engine.checkpoint()
    model = fit_rfm(analysable(engine), engine.clock.now(), _version())
    engine.store.save_model("rfm", model.version, model.to_json())
    engine.reload_models()
    return model


def update_clv(engine: Engine) -> CLVModel:
    """Fit BG/NBD and Gamma-Gamma on every customer who ordered, keep them, use them now."""
    engine.checkpoint()
    model = fit_clv(analysable(engine), engine.clock.now(), _version())
    engine.store.save_model("clv", model.version, model.to_json())
    engine.reload_models()
    return model


def mine_stored_rules(engine: Engine, *, min_support: float, min_confidence: float,
                      max_len: int, save: bool) -> list[dict[str, Any]]:
    """Basket rules from the purchases in the log; with `save`, offers use them at once."""
    from ..analytics import baskets_from_events, mine_rules
    from ..decisions import save_offer_rules

    events = engine.logged()
    rules = [r.to_json() for r in mine_rules(
        baskets_from_events(events, vocabulary=engine.vocabulary), min_support=min_support,
        min_confidence=min_confidence, max_len=max_len)]
    if save and not engine.readonly:
        save_offer_rules(engine.store, rules, kind="basket_rules")
        engine.reload_models()
    return rules
