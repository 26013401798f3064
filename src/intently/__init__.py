"""Intently: real-time behavioral marketing.

Events come in (`intently.events`), golden records are kept (`intently.profiles`) by the engine
(`intently.engine`) over a store (`intently.store`); `intently.api` and `intently.cli` are the
surfaces, `intently.testing` holds the manual clock and the shop simulator.

The names below load on first use, so that `import intently.cli` (and `intently --help`) does
not pay for the engine, the models and the web stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_WHERE = {
    "AuthError": "._errors", "IntentlyError": "._errors", "NotFound": "._errors",
    "PayloadTooLarge": "._errors", "StoreError": "._errors", "ValidationError": "._errors",
    "Settings": ".config",
    "Engine": ".engine", "IngestResult": ".engine", "ManualClock": ".clock",
    "Processed": ".engine", "SystemClock": ".clock",
    "Event": ".events", "SignalRule": ".events", "Vocabulary": ".events",
    "Profile": ".profiles",
}

__all__ = [
    "AuthError", "Engine", "Event", "IngestResult", "IntentlyError", "ManualClock", "NotFound",
    "PayloadTooLarge", "Processed", "Profile", "Settings", "SignalRule", "StoreError",
    "SystemClock", "ValidationError", "Vocabulary", "__version__",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'intently' has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from ._errors import (
        AuthError,
        IntentlyError,
        NotFound,
        PayloadTooLarge,
        StoreError,
        ValidationError,
    )
    from .clock import ManualClock, SystemClock
    from .config import Settings
    from .engine import Engine, IngestResult, Processed
    from .events import Event, SignalRule, Vocabulary
    from .profiles import Profile
