"""What the routes share: settings and the engine worker, kept on the app's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from ..config import Settings
from ..engine import EngineWorker


@dataclass
class Services:
    settings: Settings
    worker: EngineWorker
    _decider: Any = field(default=None, repr=False)

    def decider(self, engine: Any) -> Any:
        """The offer decider, loaded from the store on first use."""
        if self._decider is None:
            self.reload_decider(engine)
        return self._decider

    def reload_decider(self, engine: Any) -> None:
        from ..decisions import load_decider

        self._decider = load_decider(engine.store)


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]
