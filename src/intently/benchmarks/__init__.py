"""Benchmarks, run by `intently bench`. Each returns a dict of figures; the CLI prints JSON.

Speed is measured here, never asserted in tests."""

from ._run import run_all

__all__ = ["run_all"]
