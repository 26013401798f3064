"""The runner: the per-event pipeline, group commit, checkpoints, the clock."""

from .._gc import tune_gc
from ..clock import Clock, ManualClock, SystemClock
from ._dispatch import Dispatcher, channels_from_settings
from ._engine import Engine, IngestResult, Processed, as_event, decode_event
from ._ingest import FileIngestResult, ingest_file
from ._jobs import clv_view, mine_stored_rules, rfm_view, update_clv, update_rfm
from ._worker import EngineWorker

__all__ = [
    "Clock",
    "Dispatcher",
    "Engine",
    "EngineWorker",
    "FileIngestResult",
    "IngestResult",
    "ManualClock",
    "Processed",
    "SystemClock",
    "as_event",
    "channels_from_settings",
    "clv_view",
    "decode_event",
    "ingest_file",
    "mine_stored_rules",
    "rfm_view",
    "tune_gc",
    "update_clv",
    "update_rfm",
]
