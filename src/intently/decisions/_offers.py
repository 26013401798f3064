"""Real-time offer decisions for a receipt or a basket.

Two sources of offers, ranked together:
- business rules a marketer writes ("champagne and candy: 20% off flowers at the partner
  florist"), with an optional audience in the rule language and a priority;
- association rules mined from baskets (`intently rules mine --save`), offered by lift.

A decision is a few set lookups: every rule is indexed by the one of its items that the fewest
rules share, so a basket only touches the rules one of whose items it holds, each once. Where
several rules offer the same item, the best-ranked one gives it. The customer's record adds the
audience check, the `offers` consent (an explicit opt-out blocks every offer) and a cap on
offers per customer per day, counted in memory for the customers of the last day only.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from .._errors import ValidationError
from ..profiles import Profile, permits
from ..segments import Node, compile_rule, parse


@dataclass(frozen=True)
class OfferRule:
    name: str
    when: frozenset[str]  # every one of these items or categories in the basket
    offer: str  # the item or category offered
    text: str = ""
    discount: float = 0.0
    partner: str | None = None
    priority: int = 0
    audience: Node | None = None
    source: str = "rule"  # "rule" (written) or "mined"
    lift: float = 0.0
    confidence: float = 0.0

    @classmethod
    def from_dict(cls, data: Any, path: str = "$") -> OfferRule:
        if not isinstance(data, dict):
            raise ValidationError("an offer rule is a mapping", path)
        when = data.get("when")
        if not isinstance(when, list) or not when or not all(isinstance(w, str) for w in when):
            raise ValidationError("`when` is a non-empty list of items or categories",
                                  f"{path}.when")
        offer = data.get("offer")
        if not isinstance(offer, str) or not offer:
            raise ValidationError("`offer` names the item or category offered", f"{path}.offer")
        discount = data.get("discount", 0)
        if not isinstance(discount, int | float) or not 0 <= discount <= 100:
            raise ValidationError("`discount` is a percentage from 0 to 100", f"{path}.discount")
        audience = None
        if data.get("audience"):
            try:
                audience = parse(str(data["audience"]))
            except ValidationError as exc:
                raise ValidationError(exc.message, f"{path}.audience") from None
        return cls(name=str(data.get("name") or f"{'+'.join(when)}->{offer}"),
                   when=frozenset(w.lower() for w in when), offer=offer.lower(),
                   text=str(data.get("text", "")), discount=float(discount),
                   partner=data.get("partner"), priority=int(data.get("priority", 0)),
                   audience=audience)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "when": sorted(self.when), "offer": self.offer,
                "text": self.text, "discount": self.discount, "partner": self.partner,
                "priority": self.priority, "source": self.source,
                **({"lift": round(self.lift, 3), "confidence": round(self.confidence, 3)}
                   if self.source == "mined" else {})}


def mined_offers(rules: list[dict[str, Any]], min_lift: float = 1.2) -> list[OfferRule]:
    """Offer rules from `intently rules mine --json` rows (one per consequent)."""
    out = []
    for r in rules:
        if float(r.get("lift", 0)) < min_lift:
            continue
        for item in r.get("consequents", []):
            when = frozenset(str(a).lower() for a in r.get("antecedents", []))
            out.append(OfferRule(name=f"{'+'.join(sorted(when))}->{item}", when=when,
                                 offer=str(item).lower(), text=f"Customers who buy "
                                 f"{' and '.join(sorted(when))} also buy {item}",
                                 source="mined", lift=float(r["lift"]),
                                 confidence=float(r.get("confidence", 0))))
    return out


GIVEN_SWEEP = 10_000
"""Customers counted for the daily cap before the first sweep of those given nothing lately."""


@dataclass
class Decider:
    rules: list[OfferRule]
    max_offers: int = 3
    cap_per_day: int = 10  # offers per customer in any 24 h (kept in memory)
    _index: dict[str, list[tuple[int, OfferRule, dict[str, Any]]]] = field(
        default_factory=dict, init=False)
    """Each rule under its least-shared item, with its place in the ranking (`_rank`) and its
    answer, built once (its items as a tuple: nothing in it to change)."""
    _audiences: dict[str, Any] = field(default_factory=dict, init=False)
    _given: dict[str, deque[float]] = field(default_factory=dict, init=False)
    _swept_at: int = field(default=GIVEN_SWEEP, init=False)

    def __post_init__(self) -> None:
        shared = Counter(item for rule in self.rules for item in rule.when)
        for place, rule in enumerate(sorted(self.rules, key=_rank)):
            # a rule holds only if all its items are there: one of them will do
            anchor = min(rule.when, key=lambda item: (shared[item], item))
            answer = {**rule.to_json(), "when": tuple(sorted(rule.when))}
            self._index.setdefault(anchor, []).append((place, rule, answer))
            if rule.audience is not None:
                self._audiences[rule.name] = compile_rule(rule.audience).check

    def decide(self, items: list[str], profile: Profile | None = None, now: float = 0.0,
               customer: str | None = None, given: int | None = None) -> dict[str, Any]:
        """Offers for a basket of items (names, ids or categories, any case). `given`: the
        offers this customer got in the last 24 h, when counted elsewhere (a cluster's
        gateways share one count); None: counted here, in memory."""
        basket = {i.lower() for i in items}
        if profile is not None and not permits(profile, "offers"):
            return {"offers": [], "reason": "the customer opted out of offers"}
        key = profile.id if profile is not None else customer
        room = self.max_offers
        counted_here = given is None
        if given is None and key:
            times = self._given.get(key)
            if times is not None:
                while times and times[0] <= now - 86400.0:
                    times.popleft()
                given = len(times)
        if given:
            room = min(room, self.cap_per_day - given)
            if room <= 0:
                return {"offers": [], "reason": "daily offer cap reached"}
        found: list[tuple[int, OfferRule, dict[str, Any]]] = []
        index = self._index
        audiences = self._audiences
        for item in basket:
            for ranked in index.get(item, ()):
                rule = ranked[1]
                if rule.offer in basket or not rule.when <= basket:
                    continue
                check = audiences.get(rule.name) if audiences else None
                if check is not None and (profile is None or not check(
                        profile, now, profile.windows or {})):
                    continue
                found.append(ranked)
        found.sort()  # by place: no two rules share one
        chosen: list[dict[str, Any]] = []
        seen: set[str] = set()
        for _, rule, answer in found:  # one offer an item: the best-ranked rule's
            if rule.offer not in seen:
                seen.add(rule.offer)
                chosen.append(answer)
                if len(chosen) == room:
                    break
        if chosen and key and counted_here:
            times = self._given.get(key)
            if times is None:
                if len(self._given) >= self._swept_at:
                    self._sweep(now)
                times = self._given[key] = deque()
            times.extend([now] * len(chosen))
        return {"offers": [dict(answer) for answer in chosen], "reason": "" if chosen else
                "no rule matches this basket"}

    def _sweep(self, now: float) -> None:
        """Forget the customers given nothing in the last day (each decision for a customer
        not counted yet may add one: without this the count grows with every customer ever
        decided for); the next sweep when twice as many are counted."""
        since = now - 86400.0
        for gone in [k for k, times in self._given.items() if not times or times[-1] <= since]:
            del self._given[gone]
        self._swept_at = max(GIVEN_SWEEP, 2 * len(self._given))


def _rank(rule: OfferRule) -> tuple[int, int, float, str]:
    # written rules first by priority, then mined rules by lift
    return (0 if rule.source == "rule" else 1, -rule.priority, -rule.lift, rule.name)
