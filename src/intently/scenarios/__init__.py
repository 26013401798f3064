"""Scenarios: triggers, audience, steps, goal and policies as data, run per customer by the
engine on event time; their effects (messages, journal rows) go to the transactional outbox."""

from ._book import ScenarioBook, local_time
from ._content import Renderer, Tracker
from ._definition import Policies, Scenario, ScenarioError, Step, Trigger
from ._effects import ONCE_BY_CONSTRUCTION, Effects, JournalRow, Message
from ._library import load_file, parse_document, ready_made, to_yaml
from ._report import newcombe, report, wilson

__all__ = [
    "ONCE_BY_CONSTRUCTION",
    "Effects",
    "JournalRow",
    "Message",
    "Policies",
    "Renderer",
    "Scenario",
    "ScenarioBook",
    "ScenarioError",
    "Step",
    "Tracker",
    "Trigger",
    "load_file",
    "local_time",
    "newcombe",
    "parse_document",
    "ready_made",
    "report",
    "to_yaml",
    "wilson",
]
