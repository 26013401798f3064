"""The runner: the per-event pipeline, group commit, checkpoints, the clock."""

from .._gc import tune_gc
from ._clock import Clock, ManualClock, SystemClock
from ._dispatch import Dispatcher, channels_from_settings
from ._engine import Engine, IngestResult, Processed, as_event, decode_event
from ._worker import EngineWorker

__all__ = [
    "Clock",
    "Dispatcher",
    "Engine",
    "EngineWorker",
    "IngestResult",
    "ManualClock",
    "Processed",
    "SystemClock",
    "as_event",
    "channels_from_settings",
    "decode_event",
    "tune_gc",
]
