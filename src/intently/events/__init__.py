"""Where events come in: the Segment-format event, its validation and the signal vocabulary."""

from ._checks import filed_time
from ._errors import as_validation_error
from ._model import Batch, Event
from ._time import isoformat, parse_timestamp
from .signals import DEFAULT_RULES, SignalRule, Vocabulary, event_key

__all__ = [
    "DEFAULT_RULES",
    "Batch",
    "Event",
    "SignalRule",
    "Vocabulary",
    "as_validation_error",
    "event_key",
    "filed_time",
    "isoformat",
    "parse_timestamp",
]
