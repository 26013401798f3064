"""What the routes share: settings and the engine worker, kept on the app's state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from ..config import Settings
from ..engine import Engine, EngineWorker
from ..scenarios import Tracker
from ._live import LiveHub


@dataclass
class Services:
    settings: Settings
    worker: EngineWorker
    tokens: Tracker
    """Signs and reads the tokens of message links and dashboard sessions (the store's
    secret: taken once, not through the engine on each request)."""
    hub: LiveHub = field(default_factory=LiveHub)


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


async def on_engine(request: Request, fn: Callable[[Engine], Any]) -> Any:
    """Run `fn(engine)` on the engine thread, between commits (a consistent read or write)."""
    return await asyncio.wrap_future(services(request).worker.call(fn))
