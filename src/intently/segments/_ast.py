"""The rule language's syntax tree: one AST behind the text form (for people) and the JSON form
(for the API). Nodes are frozen dataclasses, so two rules are equal when they say the same."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

Value = Union[str, int, float, bool, tuple["Value", ...]]  # noqa: UP007 - recursive alias

OPS = ("=", "!=", ">=", "<=", ">", "<", "in", "contains")
COUNT_OPS = (">=", "<=", "=")


@dataclass(frozen=True)
class Compare:
    """`field op value`: `orders >= 2`, `traits.city = "Oslo"`, `cluster in ["a", "b"]`."""

    field: str
    op: str
    value: Value


@dataclass(frozen=True)
class Did:
    """Event condition: how often `name` (a signal or an event name) happened, optionally only
    events whose properties match `where`, optionally within the last `within_s` seconds.
    `op`/`count`: `>=` 1 is "did", `=` 0 is "no", `>=` 3 is "at least 3 times"."""

    name: str
    op: str = ">="
    count: int = 1
    where: tuple[Compare, ...] = ()
    within_s: int | None = None


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Union[Compare, Did, And, Or, Not]  # noqa: UP007 - forward references
