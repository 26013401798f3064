"""The online intent model: a logistic model over journey features that updates one event at a
time, so scoring costs a few dictionary look-ups per event.

The features after an event of a journey are: log1p of how often each signal occurred (among
the last `event_cap` signals, the window the record keeps), the last signal, the most recent
transition (the signal before it -> the last one), the top-level category of the event's item
(what the customer is looking at: "electronics" for "electronics.smartphone"), and log1p of the
journey's length (capped), duration and latest gap (minutes), of the event's item price and of
the journey's cart value; and, when the event names an item, what the customer did with that
item before (`profiles._items.ITEM_FEATURES`) and the item's and its category's purchase rates
(`_propensity`); and, when training chose them, the products of pairs among a few inputs
(log1p of how often each of the most frequent signals occurs in the window, and of the
journey's length, duration, latest gap and cart value; the open carts and favourites): the
interactions a tree model finds, at a few multiplications per event. The logit is a weighted
sum of them. The per-signal part accumulates in `acc` as signals arrive: the k-th sighting
adds the weight times log1p(k) - log1p(k - 1), so the sum is the weight times log1p(count).
`features()` gives the same numbers by name, for training; a test checks the two agree.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from math import log1p as _log1p  # a module global: cheaper than math.log1p in compiled code
from typing import Any

from ..profiles import ITEM_FEATURES, ItemView
from ._journeys import Journey
from ._propensity import Propensity

ITEM_RATES = ("item_rate", "category_rate")

SCALAR_FEATURES = ("log_events", "log_minutes", "log_gap", "log_price", "log_cart")
PAIR_SCALARS = ("log_events", "log_minutes", "log_gap", "log_cart", "item:open_carts")
"""The inputs whose products with each other and with the pair signals' window counts are
weighed (`x:<a>*<b>` features): the journey's length, duration, latest gap and cart value,
and the customer's carts and favourites not bought yet (when the event names an item)."""
_OPEN_CARTS = ITEM_FEATURES.index("open_carts")
_STEP = [0.0] + [math.log1p(k) - math.log1p(k - 1) for k in range(1, 257)]  # by sighting k
_LOG1P = [math.log1p(k) for k in range(257)]


@dataclass(frozen=True)
class JourneyScore:
    """The scorer's fields on a record after a journey (see `IntentScorer.score`)."""

    intent: float
    intent_acc: float
    key_delta: float
    key_ts: float
    key_action: str | None


@dataclass
class IntentModel:
    version: str
    bias: float
    count: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    recent: dict[str, dict[str, float]] = field(default_factory=dict)  # a -> b -> weight
    category: dict[str, float] = field(default_factory=dict)  # the item's top-level category
    scalar: dict[str, float] = field(default_factory=dict)
    event_cap: int = 24
    source: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    items: dict[str, float] = field(default_factory=dict)  # item features and rates by name
    item_lift: dict[int, float] = field(default_factory=dict)  # `Propensity.item`
    category_lift: dict[int, float] = field(default_factory=dict)  # `Propensity.category`
    pair_signals: list[str] = field(default_factory=list)  # whose window counts pair up
    pairs: dict[str, float] = field(default_factory=dict)  # "a*b" -> weight (`pair_names`)

    def __post_init__(self) -> None:
        w = self.items
        self._w_items = tuple(w.get(name, 0.0) for name in ITEM_FEATURES)
        self._uses_items = any(self._w_items) or any(w.get(n) for n in ITEM_RATES)
        self._w_item_rate = w.get("item_rate", 0.0)
        self._w_category_rate = w.get("category_rate", 0.0)
        s = self.scalar
        self._w_events = s.get("log_events", 0.0)
        self._w_minutes = s.get("log_minutes", 0.0)
        self._w_gap = s.get("log_gap", 0.0)
        self._w_price = s.get("log_price", 0.0)
        self._w_cart = s.get("log_cart", 0.0)
        self._log_n = [self._w_events * math.log1p(min(n, self.event_cap)) for n in range(257)]
        names = pair_names(self.pair_signals)
        index = {name: i for i, name in enumerate(names)}
        rows: list[list[tuple[int, float]]] = [[] for _ in names]  # i -> (j > i, weight)
        for name, weight in self.pairs.items():
            a, _, b = name.partition("*")
            if weight and a in index and b in index:
                i, j = sorted((index[a], index[b]))
                rows[i].append((j, weight))
        self._pair_rows = rows
        self._uses_pairs = any(rows)
        self._pair_index = {s: i for i, s in enumerate(self.pair_signals)}

    # -- online
    def step(self, acc: float, signal: str, before: int) -> float:
        """The running sum after one more signal, sighted `before` times in the window."""
        w = self.count.get(signal)
        return acc + w * _STEP[before + 1] if w is not None else acc

    def logit(self, acc: float, last: str, before_last: str | None, n: int, minutes: float,
              gap: float, price: float = 0.0, cart: float = 0.0,
              category: str | None = None, item: ItemView | None = None,
              window: list[str] | None = None) -> float:
        """`window`: the journey's signals the record keeps (the pairs' counts)."""
        value = self.bias + acc + self.last.get(last, 0.0)
        if before_last is not None:
            row = self.recent.get(before_last)
            if row is not None:
                value += row.get(last, 0.0)
        if category is not None:
            value += self.category.get(category, 0.0)
        value += self._log_n[n] if n < 257 else self._log_n[256]
        if minutes > 0.0:
            value += self._w_minutes * _log1p(minutes)
        if gap > 0.0:
            value += self._w_gap * _log1p(gap)
        if price > 0.0:
            value += self._w_price * _log1p(price)
        if cart > 0.0:
            value += self._w_cart * _log1p(cart)
        if item is not None and self._uses_items:
            w = self._w_items
            v = item.values
            for i in range(len(w)):
                value += w[i] * v[i]
            lift = self.category_lift.get(item.category_bucket, 0.0)
            value += self._w_category_rate * lift + self._w_item_rate * (
                self.item_lift.get(item.item_bucket, lift) - lift)
        if self._uses_pairs and window is not None:
            value += self._pairs_sum(window, min(n, self.event_cap), minutes, gap, cart,
                                     item.values[_OPEN_CARTS] if item is not None else 0.0)
        return value

    def _pairs_sum(self, window: list[str], n: int, minutes: float, gap: float, cart: float,
                   open_carts: float) -> float:
        """The pair features' part of the logit: one pass over the window for the counts,
        then only the terms whose inputs are both non-zero."""
        k = len(self.pair_signals)
        counts = [0] * k
        index = self._pair_index
        for sig in window:
            i = index.get(sig)
            if i is not None:
                counts[i] += 1
        x = [_LOG1P[c] if c < 257 else _log1p(c) for c in counts]
        x.append(_LOG1P[n] if n < 257 else _log1p(n))
        x.append(_log1p(minutes) if minutes > 0.0 else 0.0)
        x.append(_log1p(gap) if gap > 0.0 else 0.0)
        x.append(_log1p(cart) if cart > 0.0 else 0.0)
        x.append(open_carts)
        total = 0.0
        rows = self._pair_rows
        for i in range(len(x)):
            xi = x[i]
            if xi != 0.0:
                for j, weight in rows[i]:
                    xj = x[j]
                    if xj != 0.0:
                        total += weight * xi * xj
        return total

    def propensity(self) -> Propensity:
        return Propensity(self.item_lift, self.category_lift)

    @property
    def base_rate(self) -> float:
        return sigmoid(self.bias)

    # -- offline, a whole journey
    def probabilities(self, journey: Journey) -> list[float]:
        """The probability after each event of a journey, computed the online way."""
        return self._replay(journey)[0]

    def final_state(self, journey: Journey) -> JourneyScore:
        """What the online scorer leaves on a record after this journey's events: to bring
        records up to a new model without waiting for their next event."""
        probs, acc = self._replay(journey)
        before = self.base_rate
        key_delta = 0.0
        key_ts = 0.0
        key_action: str | None = None
        for e, now in enumerate(probs):  # the scorer's rule: the biggest rise, first if tied
            if now - before > key_delta:
                end = journey.ends[e]
                key_delta, key_ts, key_action = now - before, journey.times[end - 1], \
                    journey.signals[end - 1]
            before = now
        intent = 1.0 if journey.converted else (probs[-1] if probs else self.base_rate)
        return JourneyScore(intent, acc, key_delta, key_ts, key_action)

    def _replay(self, journey: Journey) -> tuple[list[float], float]:
        acc, out, seen = 0.0, [], 0
        sig, times = journey.signals, journey.times
        cap = self.event_cap
        for e, end in enumerate(journey.ends):
            for i in range(seen, end):
                acc = self.step(acc, sig[i], sig[max(0, end - cap) : i].count(sig[i]))
            minutes = (times[end - 1] - journey.start) / 60.0
            gap = (times[end - 1] - times[seen - 1]) / 60.0 if seen else 0.0
            before_last = sig[end - 2] if end > 1 else None
            out.append(sigmoid(self.logit(acc, sig[end - 1], before_last, end, minutes, gap,
                                          journey.prices[e], journey.carts[e],
                                          journey.categories[e], journey.items[e],
                                          sig[max(0, end - cap) : end])))
            seen = end
        return out, acc

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, blob: bytes | str) -> IntentModel:
        data = json.loads(blob)
        for table in ("item_lift", "category_lift"):  # JSON keys are text
            data[table] = {int(k): v for k, v in data.get(table, {}).items()}
        return cls(**data)


def pair_names(pair_signals: list[str]) -> list[str]:
    """The inputs of the pair features, in order: `w:<signal>` for each pair signal's window
    count, then `PAIR_SCALARS`."""
    return [*(f"w:{s}" for s in pair_signals), *PAIR_SCALARS]


def pair_inputs(pair_signals: list[str], window: list[str], n: int, minutes: float,
                gap: float, cart: float, open_carts: float) -> list[float]:
    """The values `pair_names` names: log1p of each pair signal's count in `window`, log1p
    of the journey's length (capped: `n`), minutes, latest gap and cart value, and the item
    feature `open_carts`."""
    x = [_log1p(window.count(s)) for s in pair_signals]
    x.append(_log1p(n))  # as `_LOG1P[n]`: the same float
    x.append(_log1p(minutes) if minutes > 0.0 else 0.0)
    x.append(_log1p(gap) if gap > 0.0 else 0.0)
    x.append(_log1p(cart) if cart > 0.0 else 0.0)
    x.append(open_carts)
    return x


def features(journey: Journey, e: int, event_cap: int = 24,
             tables: Propensity | None = None, pair_signals: list[str] | None = None
             ) -> dict[str, float]:
    """The features after event `e` of a journey, by name: what `IntentModel` weighs, for
    training. `tables`: the item and category rates to read (training reads tables learned
    without the journey's own customer). `pair_signals`: whose window counts pair up with
    each other and with `PAIR_SCALARS` (`x:<a>*<b>` features; none without)."""
    signals, times = journey.signals, journey.times
    end = journey.ends[e]
    prev_end = journey.ends[e - 1] if e else 0
    out: dict[str, float] = {}
    start = 0
    for stop in journey.ends:
        if stop > end:
            break
        for i in range(start, stop):  # each sighting counted in the window the record keeps
            sig = signals[i]
            before = signals[max(0, stop - event_cap) : i].count(sig)
            key = "count:" + sig
            out[key] = out.get(key, 0.0) + _STEP[before + 1]
        start = stop
    out["last:" + signals[end - 1]] = 1.0
    if end > 1:
        out[f"recent:{signals[end - 2]}>{signals[end - 1]}"] = 1.0
    category = journey.categories[e]
    if category is not None:
        out["category:" + category] = 1.0
    out["log_events"] = math.log1p(min(end, event_cap))
    out["log_minutes"] = math.log1p(max((times[end - 1] - journey.start) / 60.0, 0.0))
    gap = (times[end - 1] - times[prev_end - 1]) / 60.0 if prev_end else 0.0
    out["log_gap"] = math.log1p(max(gap, 0.0))
    out["log_price"] = math.log1p(max(journey.prices[e], 0.0))
    out["log_cart"] = math.log1p(max(journey.carts[e], 0.0))
    item = journey.items[e]
    if item is not None:
        for name, value in zip(ITEM_FEATURES, item.values, strict=True):
            if value:
                out["item:" + name] = value
        if tables is not None:
            out["item_rate"], out["category_rate"] = tables.rates(item.item_bucket,
                                                                  item.category_bucket)
    if pair_signals:
        names = pair_names(pair_signals)
        x = pair_inputs(pair_signals, list(signals[max(0, end - event_cap) : end]),
                        min(end, event_cap), max((times[end - 1] - journey.start) / 60.0, 0.0),
                        max(gap, 0.0), max(journey.carts[e], 0.0),
                        item.values[_OPEN_CARTS] if item is not None else 0.0)
        for i in range(len(x)):
            if x[i]:
                for j in range(i + 1, len(x)):
                    if x[j]:
                        out[f"x:{names[i]}*{names[j]}"] = x[i] * x[j]
    return out


def from_weights(version: str, bias: float, weights: dict[str, float], **extra: Any
                 ) -> IntentModel:
    """Build the model from named feature weights (as `features()` names them)."""
    count: dict[str, float] = {}
    last: dict[str, float] = {}
    recent: dict[str, dict[str, float]] = {}
    category: dict[str, float] = {}
    scalar: dict[str, float] = {}
    items: dict[str, float] = {}
    pairs: dict[str, float] = {}
    for name, w in weights.items():
        if w == 0.0:
            continue
        kind, _, rest = name.partition(":")
        if kind == "x":
            pairs[rest] = w
            continue
        if kind == "count":
            count[rest] = w
        elif kind == "last":
            last[rest] = w
        elif kind == "recent":
            a, _, b = rest.partition(">")
            recent.setdefault(a, {})[b] = w
        elif kind == "category":
            category[rest] = w
        elif name in SCALAR_FEATURES:
            scalar[name] = w
        elif kind == "item" or name in ITEM_RATES:
            items[rest if kind == "item" else name] = w
    return IntentModel(version=version, bias=bias, count=count, last=last, recent=recent,
                       category=category, scalar=scalar, items=items, pairs=pairs, **extra)


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def load_model(store: Any, name: str = "intent") -> IntentModel | None:
    """The latest model saved in the store under `name`, if any."""
    blob = store.load_model(name)
    return IntentModel.from_json(blob) if blob is not None else None


def save_model(store: Any, model: Any, name: str = "intent") -> None:
    """Keep a new version of a model (IntentModel, or ClusterModel under "clusters")."""
    store.save_model(name, model.version, model.to_json())


def load_clusters(store: Any) -> Any:
    from ._clusters import ClusterModel

    blob = store.load_model("clusters")
    return ClusterModel.from_json(blob) if blob is not None else None
