"""Scenarios as a service: add, replace and remove them (saved in the catalog, used at once)."""

from __future__ import annotations

import json

from .._errors import NotFound
from ..scenarios import Scenario, ScenarioBook
from ._runner import Runner


class ScenarioService:
    def __init__(self, runner: Runner, book: ScenarioBook) -> None:
        self.runner = runner
        self.book = book

    def put(self, scenario: Scenario) -> None:
        """Add or replace a scenario; it acts on events from now on."""
        if self.runner.readonly:
            raise RuntimeError("this engine was opened read-only")
        self.book.renderer_check(scenario)
        self.runner.store.save_scenario(scenario.name, json.dumps(scenario.to_json()).encode())
        self.book.put(scenario)

    def remove(self, name: str) -> None:
        """Delete a scenario: its journeys stop at their next step."""
        if self.runner.readonly:
            raise RuntimeError("this engine was opened read-only")
        if not self.book.remove(name):
            raise NotFound(f"no scenario {name!r}")
        self.runner.store.save_scenario(name, None)
