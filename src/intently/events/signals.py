"""The signal vocabulary: raw event names (and property conditions) to behavior signals.

Chains of signals, not raw clicks, are what intent, clusters and segments read. Segment's
e-commerce, video and email event names are understood out of the box; a track event that no
rule names becomes a signal of its own (`Loan Calculator Used` -> `loan_calculator_used`).
Derived signals (a return after a gap, a second look at the specs) are added by the pipeline,
which knows the customer's history.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._model import _NAME_BY_TYPE, Event

PURCHASED = "purchased"
RETURNED_AFTER_GAP = "returned_after_gap"
REPEATED_SPEC_VIEW = "repeated_spec_view"
VIEWED_SPECS = "viewed_specs"


@dataclass(frozen=True, slots=True)
class SignalRule:
    """`events` (any spelling: `Product Viewed`, `product_viewed`) give `signal` when every
    `where` condition holds. A condition maps a dotted path (`properties.section`) to a value or
    a list of accepted values."""

    signal: str
    events: tuple[str, ...]
    where: Mapping[str, Any] = field(default_factory=dict)


DEFAULT_RULES: tuple[SignalRule, ...] = (
    SignalRule("viewed_product",
               ("Product Viewed", "view", "product_view", "Product Clicked", "pv")),
    SignalRule("browsed_category",
               ("Product List Viewed", "Category Viewed", "Product List Filtered")),
    SignalRule("searched", ("Products Searched", "Search", "Searched")),
    SignalRule(VIEWED_SPECS, ("Product Specs Viewed", "Specs Viewed", "Spec Viewed")),
    SignalRule(VIEWED_SPECS, ("Page Viewed",), {"properties.section": ["specs", "specifications"]}),
    SignalRule("viewed_video", ("Video Playback Started", "Video Played", "Video Content Playing")),
    SignalRule("shared", ("Product Shared", "Cart Shared", "Shared")),
    SignalRule("added_to_cart", ("Product Added", "cart", "add_to_cart", "Added To Cart")),
    SignalRule("removed_from_cart", ("Product Removed", "remove_from_cart")),
    SignalRule("viewed_cart", ("Cart Viewed",)),
    SignalRule("started_checkout", ("Checkout Started", "Payment Info Entered")),
    SignalRule(PURCHASED, ("Order Completed", "purchase", "Receipt Registered", "Store Receipt",
                           "buy")),
    SignalRule("refunded", ("Order Refunded",)),
    SignalRule("wishlisted", ("Product Added to Wishlist", "fav")),
    SignalRule("used_promotion", ("Promotion Clicked", "Coupon Applied")),
    SignalRule("opened_email", ("Email Opened",)),
    SignalRule("clicked_email", ("Email Link Clicked",)),
    SignalRule("signed_up", ("Signed Up", "Account Created")),
    SignalRule("viewed_page", ("Page Viewed", "Screen Viewed")),
)

_NOT_SIGNALS = frozenset({"identify", "alias", "group"})
_SLUG = re.compile(r"[^a-z0-9]+")


def event_key(name: str) -> str:
    """`Product Viewed`, `product_viewed` and `PRODUCT-VIEWED` share one key."""
    return _SLUG.sub(" ", name.lower()).strip()


def _slug(name: str) -> str:
    return event_key(name).replace(" ", "_")


def _lookup(event: Event, path: str) -> Any:
    head, _, rest = path.partition(".")
    value: Any = getattr(event, head, None)
    for part in rest.split(".") if rest else ():
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def action_of(event: Event) -> str:
    """`Event.action`, compiled: the hot path asks for it on every event."""
    kind = event.type
    if kind == "track":
        return event.event or ""
    return _NAME_BY_TYPE[kind]


class Vocabulary:
    """Maps an event to its raw signals in one dict look-up on the hot path."""

    def __init__(
        self,
        rules: Iterable[SignalRule] = DEFAULT_RULES,
        *,
        return_gap_hours: float = 1.0,
        unknown_events_are_signals: bool = True,
    ) -> None:
        self.rules = tuple(rules)
        self.return_gap_s = return_gap_hours * 3600.0
        self.unknown_events_are_signals = unknown_events_are_signals
        self._conditional: dict[str, list[SignalRule]] = {}
        self._fallback: dict[str, tuple[str, ...]] = {}
        for rule in self.rules:
            for name in rule.events:
                key = event_key(name)
                if rule.where:
                    self._conditional.setdefault(key, []).append(rule)
                elif key not in self._fallback:
                    self._fallback[key] = (rule.signal,)
        self._keys: dict[str, str] = {}

    @property
    def signal_names(self) -> list[str]:
        names = {rule.signal for rule in self.rules}
        return sorted(names | {RETURNED_AFTER_GAP, REPEATED_SPEC_VIEW})

    def signals_for(self, event: Event, name: str | None = None) -> tuple[str, ...]:
        """The raw signals of one event: a conditional rule that holds wins over a plain one.
        `name`: the event's `action_of`, when the caller has it."""
        if name is None:
            name = action_of(event)
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = event_key(name)
        conditional = self._conditional.get(key)
        if conditional:
            for rule in conditional:
                if all(_matches(_lookup(event, p), want) for p, want in rule.where.items()):
                    return (rule.signal,)
        found = self._fallback.get(key)
        if found is not None:
            return found
        if not self.unknown_events_are_signals or key in _NOT_SIGNALS:
            return ()
        found = self._fallback[key] = (_slug(name),)
        return found

    @classmethod
    def from_file(cls, path: str | Path) -> Vocabulary:
        """Load rules from TOML or JSON: `[[rules]] signal = "..." events = [...] where = {...}`.

        `extends_defaults = true` (the default) keeps the built-in rules after the file's.
        """
        path = Path(path)
        raw = path.read_text()
        data = tomllib.loads(raw) if path.suffix == ".toml" else json.loads(raw)
        rules = [
            SignalRule(r["signal"], tuple(r["events"]), dict(r.get("where", {})))
            for r in data.get("rules", [])
        ]
        if data.get("extends_defaults", True):
            rules.extend(DEFAULT_RULES)
        return cls(rules, return_gap_hours=float(data.get("return_gap_hours", 1.0)))


def _matches(value: Any, want: Any) -> bool:
    if isinstance(want, list | tuple | set | frozenset):
        return value in want
    return bool(value == want)
