"""The audit of changes to definitions and models: who, what, when, and the state before and
after, journaled with the privacy requests. The API, the dashboard and the CLI all change
things through `audited`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ._jobs import clv_view, rfm_view

if TYPE_CHECKING:
    from ._engine import Engine

T = TypeVar("T")
State = Callable[["Engine"], Any]


def audited(engine: Engine, actor: str, verb: str, subject: str, state: State,
            change: Callable[[Engine], T]) -> T:
    """Run `change`, with `state` read just before and just after it, and journal both
    (nothing is journaled when the change fails). On the engine's thread."""
    before = state(engine)
    result = change(engine)
    engine.privacy.audit(verb, subject, actor, before, state(engine))
    return result


def segment_state(name: str) -> State:
    def read(engine: Engine) -> Any:
        found = engine.segment_definitions.get(name)
        return found.to_json() if found is not None else None
    return read


def scenario_state(name: str) -> State:
    def read(engine: Engine) -> Any:
        found = engine.scenario_definitions.get(name)
        return found.to_json() if found is not None else None
    return read


def offers_state(engine: Engine) -> Any:
    return [r.to_json() for r in engine.decider.rules]


def rfm_state(engine: Engine) -> Any:
    return rfm_view(engine.rfm) if engine.rfm is not None else None


def clv_state(engine: Engine) -> Any:
    return clv_view(engine.clv) if engine.clv is not None else None
