"""Batch analytics over the history: basket rules (DuckDB), and more to come (RFM, CLV)."""

from .rules import Rule, baskets_from_events, mine_rules

__all__ = ["Rule", "baskets_from_events", "mine_rules"]
