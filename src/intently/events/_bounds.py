"""Bounds on what an event may carry, so that no value a client sends can break a later stage.

The write key ships inside web pages, so anyone may send anything. msgspec checks the shape;
this checks the sizes inside the free-form parts (`properties`, `traits`, `context`): nesting
depth, key and string lengths, integers that fit 64 bits, finite numbers. A value outside
them is refused with the path to it, before anything is stored.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 16
"""Objects and arrays nested deeper than this are refused (a profile never needs more)."""
MAX_KEY_CHARS = 256
MAX_STRING_CHARS = 1_048_576  # in practice the event size limit (32 KiB) bounds strings first
MAX_ITEMS = 2_000
"""Entries in one object or array."""
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def check_bounds(value: dict[str, Any], field: str) -> None:
    """Raise ValueError `field.path: what is wrong` for the first value out of bounds."""
    if value:
        _check_dict(value, field, 1)


def _check_dict(value: dict[str, Any], path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if len(value) > MAX_ITEMS:
        raise ValueError(f"{path}: {len(value)} keys, over the limit of {MAX_ITEMS}")
    for key, item in value.items():
        if len(key) > MAX_KEY_CHARS:
            raise ValueError(f"{path}: a key of {len(key)} characters, over the "
                             f"{MAX_KEY_CHARS}-character limit")
        kind = type(item)  # scalars inline; a path is only built for an error or a container
        if kind is str:
            if len(item) > MAX_STRING_CHARS:
                _check(item, _child(path, key), depth + 1)
        elif kind is float:
            if not math.isfinite(item):
                _check(item, _child(path, key), depth + 1)
        elif kind is int:
            if not INT_MIN <= item <= INT_MAX:
                _check(item, _child(path, key), depth + 1)
        elif kind is dict or kind is list:
            _check(item, _child(path, key), depth + 1)


def _check(value: Any, path: str, depth: int) -> None:
    kind = type(value)
    if kind is str:
        if len(value) > MAX_STRING_CHARS:
            raise ValueError(f"{path}: a string of {len(value)} characters, over the "
                             f"{MAX_STRING_CHARS}-character limit")
    elif kind is int:
        if not INT_MIN <= value <= INT_MAX:
            raise ValueError(f"{path}: the integer {value} does not fit in 64 bits")
    elif kind is float:
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value} is not a finite number")
    elif kind is dict:
        _check_dict(value, path, depth)
    elif kind is list:
        if depth > MAX_DEPTH:
            raise ValueError(f"{path}: nested deeper than {MAX_DEPTH} levels")
        if len(value) > MAX_ITEMS:
            raise ValueError(f"{path}: {len(value)} items, over the limit of {MAX_ITEMS}")
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]", depth + 1)


def _child(path: str, key: str) -> str:
    if key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


MONEY_KEYS = ("revenue", "total", "subtotal", "price", "quantity")
"""Segment's e-commerce amounts. (`value` is left alone: custom events use it for anything,
a bank's balance change included, and it may be negative.)"""
MAX_AMOUNT = 1e15
_NO_MONEY = frozenset((*MONEY_KEYS, "products"))


def normalize_money(props: dict[str, Any], path: str = "properties") -> None:
    """Amounts as Segment's e-commerce spec names them, in place: numeric strings become
    numbers (`"20.00"` is 20.0, as exports write it); negative, non-numeric and absurd amounts
    raise ValueError naming the field. Order lines (`products`) too."""
    if _NO_MONEY.isdisjoint(props):  # most events carry no amount: one C-level check
        return
    for key in MONEY_KEYS:
        if key in props:
            props[key] = _amount(props[key], path, key)
    products = props.get("products")
    if type(products) is list:
        for i, line in enumerate(products):
            if type(line) is dict:
                normalize_money(line, f"{path}.products[{i}]")


def _amount(value: Any, path: str, key: str) -> Any:
    kind = type(value)
    if kind is float or kind is int:  # the common case: a number in range
        if 0 <= value <= MAX_AMOUNT:
            return value
        raise ValueError(f"{path}.{key}: {value!r} is not an amount (0 to {MAX_AMOUNT:.0e})")
    if value is None or kind is bool:
        return value
    if kind is str:
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{path}.{key}: expected an amount, got {value[:40]!r}") from None
        return _amount(number, path, key)
    raise ValueError(f"{path}.{key}: expected an amount, got {kind.__name__}")
