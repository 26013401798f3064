"""Intently: real-time behavioral marketing.

Events come in (`intently.events`), golden records are kept (`intently.profiles`) by the engine
(`intently.engine`) over a store (`intently.store`); `intently.api` and `intently.cli` are the
surfaces, `intently.testing` holds the manual clock and the shop simulator.
"""

from ._errors import (
    AuthError,
    IntentlyError,
    NotFound,
    PayloadTooLarge,
    StoreError,
    ValidationError,
)
from .config import Settings
from .engine import Engine, IngestResult, ManualClock, Processed, SystemClock
from .events import Event, SignalRule, Vocabulary
from .profiles import Profile

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "Engine",
    "Event",
    "IngestResult",
    "IntentlyError",
    "ManualClock",
    "NotFound",
    "PayloadTooLarge",
    "Processed",
    "Profile",
    "Settings",
    "SignalRule",
    "StoreError",
    "SystemClock",
    "ValidationError",
    "Vocabulary",
    "__version__",
]
