"""Checks a new rule passes before it is saved: every record field it compares exists."""

from __future__ import annotations

from ._ast import And, Compare, Node, Not, Or
from ._errors import RuleError
from ._evaluate import known_field


def fields_read(node: Node) -> list[str]:
    """The record fields a rule compares, in order."""
    if isinstance(node, Compare):
        return [node.field]
    if isinstance(node, Not):
        return fields_read(node.item)
    if isinstance(node, And | Or):
        return [f for item in node.items for f in fields_read(item)]
    return []  # `did …`: its `with` conditions name event properties, not record fields


def unknown_fields(node: Node) -> list[str]:
    """The record fields a rule compares that no record has (a typo, say), in order."""
    return [f for f in fields_read(node) if not known_field(f)]


def check_fields(node: Node, path: str = "$") -> None:
    """Refuse a rule on a field no record has: it would match no one (or everyone), silently."""
    unknown = unknown_fields(node)
    if unknown:
        raise RuleError(f"unknown field {unknown[0]!r} (the fields are listed in the README's "
                        "Segments section; custom traits are traits.<name>)", path=path)
