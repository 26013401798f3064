"""`intently bench`: every benchmark, one JSON object."""

from __future__ import annotations

import platform
import sys
from typing import Any

from .._hot import compiled
from . import http, pipeline, realistic, rules, scenarios
from ._data import shop_events


def run_all(quick: bool = False) -> dict[str, Any]:
    users, days = (3000, 30) if quick else (20000, 30)
    events = shop_events(users, days)
    figures: dict[str, Any] = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                    "processor": platform.machine(),
                    "compiled": compiled()},  # the hot path built with mypyc (setup.py)
        "quick": quick,
    }
    figures.update(pipeline.run(events, repeats=1 if quick else 2))
    figures.update(realistic.run(quick))
    figures.update(http.run(events[: 30_000 if quick else 200_000]))
    figures.update(rules.run(million=not quick))
    figures.update(scenarios.run(quick))
    return figures
