"""Batch analytics over the history: basket rules (DuckDB), and more to come (RFM, CLV)."""

from .rfm import RFMModel, RFMScore, fit_rfm, segment_of
from .rules import Rule, baskets_from_events, mine_rules

__all__ = ["RFMModel", "RFMScore", "Rule", "baskets_from_events", "fit_rfm", "mine_rules",
           "segment_of"]
