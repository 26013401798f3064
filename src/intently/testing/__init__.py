"""Test helpers that ship with the product: a manual clock and the shop simulator."""

from ..clock import ManualClock
from ._server import free_port, port_open, start_server, wait_healthy, wait_until
from .simulator import Shop

__all__ = ["ManualClock", "Shop", "free_port", "port_open", "start_server", "wait_healthy",
           "wait_until"]
