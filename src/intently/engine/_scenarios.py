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
        old = self.book.scenarios.get(scenario.name)
        self.book.put(scenario)
        if old is not None and old.trigger.kind == "inactivity":
            self._look_again(scenario.name)

    def _look_again(self, name: str) -> None:
        """The records holding an inactivity wait of a replaced scenario (its audience or
        re-entry policy said no) ask the new one: waits it lets in get their timers."""
        runner = self.runner
        clock = runner.clock
        n = 0
        for profile in runner.all_profiles(let_through=True):  # events go on meanwhile
            sc = profile.sc
            if sc is not None and name in sc.held and runner.pipeline.reschedule(
                    profile, clock.now()):
                runner.state.adopt(profile)
                n += 1
                if n % 50_000 == 0:  # bounded memory on a large store
                    runner.checkpoint()
        if n:
            runner.checkpoint()

    def remove(self, name: str) -> None:
        """Delete a scenario: its journeys stop at their next step."""
        if self.runner.readonly:
            raise RuntimeError("this engine was opened read-only")
        if not self.book.remove(name):
            raise NotFound(f"no scenario {name!r}")
        self.runner.store.save_scenario(name, None)
