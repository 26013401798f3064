"""Where events come in: the Segment-format event, its validation and the signal vocabulary."""

from ._checks import filed_time
from ._decode import as_event, decode_batch, decode_event, from_log
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
    "as_event",
    "as_validation_error",
    "decode_batch",
    "decode_event",
    "event_key",
    "filed_time",
    "from_log",
    "isoformat",
    "parse_timestamp",
]
