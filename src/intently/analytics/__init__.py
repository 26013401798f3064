"""Batch analytics over the history: basket rules (DuckDB), and more to come (RFM, CLV)."""

from .customers import CustomerGroup, cluster_customers
from .rfm import RFMModel, RFMScore, fit_rfm, segment_of
from .rules import Rule, baskets_from_events, mine_rules

__all__ = [
           "CustomerGroup",
           "RFMModel",
           "RFMScore",
           "Rule",
           "baskets_from_events",
           "cluster_customers",
           "fit_rfm",
           "mine_rules",
           "segment_of",
]
