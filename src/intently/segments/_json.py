"""The rule language's JSON form, for the API: validated with errors that name the path.

    {"and": [
      {"event": "viewed_product", "where": [{"field": "category", "op": "=", "value": "shoes"}],
       "op": ">=", "count": 3, "within_s": 604800},
      {"event": "purchased", "op": "=", "count": 0, "within_s": 2592000}]}
"""

from __future__ import annotations

from typing import Any

from ._ast import COUNT_OPS, OPS, And, Compare, Did, Node, Not, Or, Value
from ._errors import RuleError


def to_json(node: Node) -> dict[str, Any]:
    if isinstance(node, Compare):
        return {"field": node.field, "op": node.op, "value": _plain(node.value)}
    if isinstance(node, Did):
        data: dict[str, Any] = {"event": node.name, "op": node.op, "count": node.count}
        if node.where:
            data["where"] = [to_json(c) for c in node.where]
        if node.within_s is not None:
            data["within_s"] = node.within_s
        return data
    if isinstance(node, Not):
        return {"not": to_json(node.item)}
    return {"and" if isinstance(node, And) else "or": [to_json(i) for i in node.items]}


def from_json(data: Any, path: str = "$") -> Node:
    """Build the AST from the JSON form; a RuleError names the path of what is wrong."""
    if not isinstance(data, dict):
        raise RuleError("a rule is a JSON object", path=path)
    if "and" in data or "or" in data:
        key = "and" if "and" in data else "or"
        items = data[key]
        if not isinstance(items, list) or not items:
            raise RuleError(f'"{key}" takes a non-empty list of rules', path=f"{path}.{key}")
        nodes = tuple(from_json(item, f"{path}.{key}[{i}]") for i, item in enumerate(items))
        if len(nodes) == 1:
            return nodes[0]
        return And(nodes) if key == "and" else Or(nodes)
    if "not" in data:
        return Not(from_json(data["not"], f"{path}.not"))
    if "event" in data:
        return _did(data, path)
    if "field" in data:
        return _compare(data, path)
    raise RuleError('expected one of "and", "or", "not", "event" or "field"', path=path)


def _compare(data: dict[str, Any], path: str) -> Compare:
    field, op = data.get("field"), data.get("op")
    if not isinstance(field, str) or not field:
        raise RuleError("field must be a non-empty string", path=f"{path}.field")
    if op not in OPS:
        raise RuleError(f"op must be one of {', '.join(OPS)}", path=f"{path}.op")
    if "value" not in data:
        raise RuleError("missing value", path=f"{path}.value")
    return Compare(field, op, _value(data["value"], f"{path}.value"))


def _did(data: dict[str, Any], path: str) -> Did:
    name = data["event"]
    if not isinstance(name, str) or not name:
        raise RuleError("event must be a non-empty string", path=f"{path}.event")
    op = data.get("op", ">=")
    if op not in COUNT_OPS:
        raise RuleError(f"op must be one of {', '.join(COUNT_OPS)}", path=f"{path}.op")
    count = data.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise RuleError("count must be a whole number, 0 or more", path=f"{path}.count")
    where = data.get("where", [])
    if not isinstance(where, list):
        raise RuleError("where takes a list of comparisons", path=f"{path}.where")
    within = data.get("within_s")
    if within is not None and (not isinstance(within, int) or isinstance(within, bool)
                               or within < 0):
        raise RuleError("within_s must be a whole number of seconds", path=f"{path}.within_s")
    return Did(name, op, count,
               tuple(_compare(w, f"{path}.where[{i}]") for i, w in enumerate(where)), within)


def _value(value: Any, path: str) -> Value:
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list) and value:
        return tuple(_value(v, f"{path}[{i}]") for i, v in enumerate(value))
    raise RuleError("value must be a string, number, boolean or non-empty list", path=path)


def _plain(value: Value) -> Any:
    return [_plain(v) for v in value] if isinstance(value, tuple) else value
