"""What the routes share: settings and the engine worker, kept on the app's state."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from ..config import Settings
from ..engine import EngineWorker
from ._live import LiveHub


@dataclass
class Services:
    settings: Settings
    worker: EngineWorker
    hub: LiveHub = field(default_factory=LiveHub)


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]
