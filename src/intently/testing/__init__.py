"""Test helpers that ship with the product: a manual clock and the shop simulator."""

from ..engine import ManualClock
from .simulator import Shop

__all__ = ["ManualClock", "Shop"]
