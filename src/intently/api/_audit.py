"""The audit of changes made over the API: who (the actor `authorize` returned), what (a verb
and the definition's name), when, and the state before and after, journaled with the
privacy requests (`GET /v1/privacy/log`, `intently privacy log`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request

from ..engine import Engine
from ._deps import on_engine

T = TypeVar("T")


async def audited(request: Request, actor: str, verb: str, subject: str,
                  state: Callable[[Engine], Any], change: Callable[[Engine], T]) -> T:
    """Run `change` on the engine thread, with `state` read just before and just after it,
    and journal both (nothing is journaled when the change fails)."""
    def run(engine: Engine) -> T:
        before = state(engine)
        result = change(engine)
        engine.privacy.audit(verb, subject, actor, before, state(engine))
        return result

    return await on_engine(request, run)  # type: ignore[no-any-return]


def segment_state(name: str) -> Callable[[Engine], Any]:
    def read(engine: Engine) -> Any:
        found = engine.segment_definitions.get(name)
        return found.to_json() if found is not None else None
    return read


def scenario_state(name: str) -> Callable[[Engine], Any]:
    def read(engine: Engine) -> Any:
        found = engine.scenario_definitions.get(name)
        return found.to_json() if found is not None else None
    return read


def offers_state(engine: Engine) -> Any:
    return [r.to_json() for r in engine.decider.rules]
