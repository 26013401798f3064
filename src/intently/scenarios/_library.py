"""Scenario files (YAML or JSON) and the ready-made scenarios shipped with Intently."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ._definition import Scenario, ScenarioError


def parse_document(text: str, name: str = "scenario") -> Any:
    """YAML (a superset of JSON) to data, with the line of a syntax error."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(f"{name} is not valid YAML{where}: "
                            f"{getattr(exc, 'problem', None) or exc}", "$") from None


def load_file(path: str | Path) -> Scenario:
    path = Path(path)
    return Scenario.from_dict(parse_document(path.read_text(), path.name))


def ready_made() -> dict[str, Scenario]:
    """The shipped scenarios, by name: edit a copy (`intently scenarios show NAME --yaml`)."""
    folder = resources.files("intently.scenarios") / "library"
    found = {}
    for f in sorted(folder.iterdir(), key=lambda f: f.name):
        if f.name.endswith((".yaml", ".yml")):
            s = Scenario.from_dict(parse_document(f.read_text(), f.name))
            found[s.name] = s
    return found


def to_yaml(scenario: Scenario) -> str:
    return yaml.safe_dump(json.loads(json.dumps(scenario.source)), sort_keys=False)
