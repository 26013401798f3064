"""Changes made over the API, audited (`engine.audited`) on the engine's thread; the actor is
what `authorize` returned."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request

from ..engine import Engine, State, audited
from ._deps import on_engine

T = TypeVar("T")


async def audited_change(request: Request, actor: str, verb: str, subject: str, state: State,
                         change: Callable[[Engine], T]) -> T:
    return await on_engine(  # type: ignore[no-any-return]
        request, lambda engine: audited(engine, actor, verb, subject, state, change))
