"""The runtime: the pure per-event pipeline, the runner around it (group commit, checkpoints,
recovery, timers), the services the surfaces use, the worker thread and the outbox dispatcher."""

from .._gc import tune_gc
from .._threads import tune_threads
from ..clock import Clock, ManualClock, SystemClock
from ..events import as_event, decode_event
from ._audit import (
    State,
    audited,
    clv_state,
    offers_state,
    rfm_state,
    scenario_state,
    segment_state,
)
from ._dispatch import Dispatcher, channels_from_settings
from ._engine import Engine
from ._ingest import FileIngestResult, ingest_file
from ._jobs import analysable, clv_view, mine_stored_rules, rfm_view, update_clv, update_rfm
from ._moves import (
    Arrival,
    Leaving,
    MovedEvent,
    adopt_events,
    adopt_records,
    forget,
    leaving,
    release,
)
from ._pipeline import Pipeline, PipelineState, Processed
from ._privacy import candidate_keys
from ._replay import journeys_from_events, replay
from ._runner import COMMIT_PARTS, IngestResult, Runner
from ._state import HotState, MemoryState
from ._suppress import COUNTER as SUPPRESSED_EVENTS
from ._users import ROLES, User, Users
from ._worker import EngineWorker

__all__ = [
    "COMMIT_PARTS",
    "ROLES",
    "SUPPRESSED_EVENTS",
    "Arrival",
    "Clock",
    "Dispatcher",
    "Engine",
    "EngineWorker",
    "FileIngestResult",
    "HotState",
    "IngestResult",
    "Leaving",
    "ManualClock",
    "MemoryState",
    "MovedEvent",
    "Pipeline",
    "PipelineState",
    "Processed",
    "Runner",
    "State",
    "SystemClock",
    "User",
    "Users",
    "adopt_events",
    "adopt_records",
    "analysable",
    "as_event",
    "audited",
    "candidate_keys",
    "channels_from_settings",
    "clv_state",
    "clv_view",
    "decode_event",
    "forget",
    "ingest_file",
    "journeys_from_events",
    "leaving",
    "mine_stored_rules",
    "offers_state",
    "release",
    "replay",
    "rfm_state",
    "rfm_view",
    "scenario_state",
    "segment_state",
    "tune_gc",
    "tune_threads",
    "update_clv",
    "update_rfm",
]
