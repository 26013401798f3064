"""Segments and tags: the rule language (one AST, a text and a JSON form) and its evaluation."""

from ._ast import And, Compare, Did, Node, Not, Or
from ._book import Change, Segment, SegmentBook
from ._builtin import builtin_segments
from ._check import check_fields, fields_read, unknown_fields
from ._compile import (
    ANY_EVENT,
    TRAITS,
    Check,
    Field,
    carries_traits,
    compile_rule,
    counter_key,
)
from ._counters import Counters
from ._errors import RuleError
from ._evaluate import FIELDS, Context, evaluate, field_value, known_field
from ._json import from_json, to_json
from ._text import parse, to_text

__all__ = [
    "ANY_EVENT",
    "FIELDS",
    "TRAITS",
    "And",
    "Change",
    "Check",
    "Compare",
    "Context",
    "Counters",
    "Did",
    "Field",
    "Node",
    "Not",
    "Or",
    "RuleError",
    "Segment",
    "SegmentBook",
    "builtin_segments",
    "carries_traits",
    "check_fields",
    "compile_rule",
    "counter_key",
    "evaluate",
    "field_value",
    "fields_read",
    "from_json",
    "known_field",
    "parse",
    "to_json",
    "to_text",
    "unknown_fields",
]
