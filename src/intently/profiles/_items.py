"""What a customer did with particular items: bounded per record, updated in O(1) per event.

Event types alone cannot tell journeys apart on a marketplace (views, carts and favourites
are most of what anyone does); what a customer does with *particular* items can: an item
carted and not yet bought, an item viewed again after hours, a favourite that reappears. A
record keeps its `ITEMS_MAX` most recent items (an item carted or favourited and not bought
is kept before one only viewed), each with its views (capped), marks and last time.

`observe` is the one implementation of the item features: the pipeline calls it on the
record's memory for each live event, and training and evaluation call it on a memory of their
own while they replay history in time order, so the model sees the same numbers everywhere.
The features describe the moment *before* the event changes the memory (was this item carted
before?), plus the event itself where the two meet (`cart_again`: it is carted again).

Compiled with mypyc (`intently._hot`); the memory's array type lives in `_itemmemory`, since
mypyc does not compile subclasses of built-in types.
"""

from __future__ import annotations

import math
from typing import Any, Final
from zlib import crc32

from ._itemmemory import ItemMemory

ITEMS_MAX: Final = 8
"""Distinct items a record remembers."""
_VIEWS: Final = 0xFF  # views per item, capped at 255, in the low bits of its mark
CARTED: Final = 1 << 8
FAVED: Final = 1 << 9
BOUGHT: Final = 1 << 10
_HELD: Final = CARTED | FAVED  # worth keeping over a viewed-only item while not bought

VIEW: Final = 1
CART: Final = 2
FAV: Final = 3
REMOVE: Final = 4
BUY: Final = 5
KIND_OF_SIGNAL: dict[str, int] = {
    "viewed_product": VIEW, "viewed_specs": VIEW, "viewed_video": VIEW, "shared": VIEW,
    "added_to_cart": CART, "wishlisted": FAV, "removed_from_cart": REMOVE, "purchased": BUY,
}
"""What an event does to its item, by signal (the first that names one wins)."""

ITEM_FEATURES = ("item_views", "item_carted", "item_faved", "item_bought", "item_return_h",
                 "category_views", "open_carts", "open_favs", "cart_again", "view_carted")
"""The names of `ItemView.values`, in order."""

TABLE_BITS: Final = 20
"""Item and category ids hash (CRC-32) into 2**20 buckets for the model's propensity tables."""
_MASK: Final = (1 << TABLE_BITS) - 1
_LOG1P = [math.log1p(k) for k in range(_VIEWS + 2)]  # log1p of small counts, looked up
_ITEM_KEYS = ("product_id", "item_id", "sku", "id")


class ItemView:
    """One event's item, its table buckets and its features (`ITEM_FEATURES` order)."""

    def __init__(self, item: str, category: str | None, kind: int, values: tuple[float, ...],
                 item_bucket: int, category_bucket: int) -> None:
        self.item = item
        self.category = category
        self.kind = kind
        self.item_bucket = item_bucket
        self.category_bucket = category_bucket
        self.values = values

    def facts(self) -> int:
        """What made this item's event count, in one word for `describe`: 0 when nothing was
        known about the item before; else what it was (1 in the cart, 2 a favourite, 3 bought
        before, 4 seen) in the top 3 bits, its views below, and the minutes since it was last
        seen in the low 21 bits."""
        v = self.values
        what = 1 if v[1] else 2 if v[2] else 3 if v[3] else 4 if v[0] else 0
        if not what:
            return 0
        views = min(_VIEWS, round(math.expm1(v[0])))
        minutes = min((1 << 21) - 1, round(math.expm1(v[4]) * 60.0))
        return what << 29 | views << 21 | minutes


_WHAT = {1: "in the cart", 2: "a favourite", 3: "bought before"}


def describe(facts: int, signal: str, item: str | None) -> str | None:
    """The key action's item, for people: "viewed_product blue-boot again after 3 h (in the
    cart)"; None when no item made it."""
    if not facts:
        return None
    what = facts >> 29
    minutes = facts & ((1 << 21) - 1)
    how = _WHAT.get(what) or f"seen {(facts >> 21) & _VIEWS} times"
    when = f"after {minutes / 60:.0f} h" if minutes >= 60 else f"after {minutes} min"
    return f"{signal} {item or 'an item'} again {when} ({how})"


def bucket(key: str) -> int:
    """The propensity-table bucket of an item or category id (stable across processes)."""
    return crc32(key.encode()) & _MASK


def item_of(props: dict[str, Any]) -> str | None:
    """The id of the item an event is about (Segment's `product_id`, or `item_id`, `sku`,
    `id`), as text; None when it names none."""
    for key in _ITEM_KEYS:
        value = props.get(key)
        if isinstance(value, str):
            return value[:128] if value else None
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def kind_of(signals: tuple[str, ...] | list[str]) -> int:
    for sig in signals:
        kind = KIND_OF_SIGNAL.get(sig)
        if kind is not None:
            return kind
    return 0


def observe(memory: ItemMemory, item: str, category: str | None, kind: int, ts: float,
            journey_start: float) -> ItemView:
    """The features of an event about `item` (what the memory knew before it), then the
    memory updated with it. `kind`: VIEW, CART, FAV, REMOVE or BUY (0: anything else that
    names an item). Bounded: at most `ITEMS_MAX` items are scanned or kept."""
    h = crc32(item.encode())
    cat_crc = crc32(category.encode()) if category else 0
    cat = (cat_crc >> 16) or 1 if category else 0  # 0 stands for "no category"
    if not memory:
        memory.append(0)  # the key facts word
    n = (len(memory) - 1) // 3
    at = -1
    same_category = 0
    carts = 0
    favs = 0
    for j in range(n):  # one pass: an item is in the memory once at most
        packed = memory[3 * j + 2]
        if packed & _HELD and not packed & BOUGHT:
            if packed & CARTED:
                carts += 1
            if packed & FAVED:
                favs += 1
        if memory[3 * j + 1] == h:
            at = j
        elif cat and packed >> 16 == cat and memory[3 * j + 3] >= journey_start:
            same_category += 1
    now = min(0xFFFFFFFF, max(0, math.ceil(ts)))
    mark = 0
    if at < 0:  # a new item: only what surrounds it
        values = (0.0, 0.0, 0.0, 0.0, 0.0, _LOG1P[same_category], _LOG1P[carts],
                  _LOG1P[favs], 0.0, 0.0)
    else:
        mark = memory[3 * at + 2] & 0xFFFF
        gap_h = max(0.0, (ts - memory[3 * at + 3]) / 3600.0)
        carted = 1.0 if mark & CARTED and not mark & BOUGHT else 0.0
        values = (
            _LOG1P[mark & _VIEWS], carted, 1.0 if mark & FAVED and not mark & BOUGHT else 0.0,
            1.0 if mark & BOUGHT else 0.0, math.log1p(gap_h), _LOG1P[same_category],
            _LOG1P[carts], _LOG1P[favs], 1.0 if kind == CART else 0.0,
            carted if kind == VIEW else 0.0,
        )
    view = ItemView(item, category, kind, values, h & _MASK, cat_crc & _MASK if category else -1)
    if at >= 0:  # move it to the newest end
        del memory[1 + 3 * at : 1 + 3 * at + 3]
    elif n >= ITEMS_MAX:
        drop = _evicted(memory)
        del memory[1 + 3 * drop : 1 + 3 * drop + 3]
    memory.extend((h, (cat << 16) | _marked(mark, kind), now))
    return view


def _marked(mark: int, kind: int) -> int:
    if kind == VIEW or kind == 0:
        return (mark & ~_VIEWS) | min(_VIEWS, (mark & _VIEWS) + 1)
    if kind == CART:
        return (mark | CARTED) & ~BOUGHT
    if kind == FAV:
        return mark | FAVED
    if kind == REMOVE:
        return mark & ~CARTED
    if kind == BUY:
        return (mark | BOUGHT) & ~(CARTED | FAVED)
    return mark


def _evicted(memory: ItemMemory) -> int:
    """The oldest item not held (carted or favourited and not bought), else the oldest."""
    for j in range((len(memory) - 1) // 3):
        m = memory[3 * j + 2] & 0xFFFF
        if not m & _HELD or m & BOUGHT:
            return j
    return 0


def bought(props: dict[str, Any], category: str | None) -> list[tuple[str, str | None]]:
    """The items (and their categories) a purchase event names: Segment's `products` lines,
    or the event's own item."""
    lines = props.get("products")
    if not isinstance(lines, list):
        item = item_of(props)
        return [(item, category)] if item is not None else []
    found: list[tuple[str, str | None]] = []
    for line in lines[:ITEMS_MAX]:
        if isinstance(line, dict):
            item = item_of(line)
            cat = line.get("category")
            if item is not None:
                found.append((item, cat if isinstance(cat, str) and cat else category))
    return found


def observe_event(p: Any, props: dict[str, Any], signals: tuple[str, ...], ts: float,
                  category: str | None) -> ItemView | None:
    """`observe` for a live event on record `p` (a `Profile`), when the event is about an
    item: its view (None for a purchase, which marks every line bought)."""
    kind = kind_of(signals)
    if not kind:
        return None
    if kind == BUY:
        memory = p.items
        for line, cat in bought(props, category):
            if memory is None:
                memory = p.items = ItemMemory()
            observe(memory, line, cat, BUY, ts, p.journey_start)
        return None
    item = item_of(props)
    if item is None:
        return None
    memory = p.items
    if memory is None:
        memory = p.items = ItemMemory()
    return observe(memory, item, category, kind, ts, p.journey_start)


def merge_items(into: ItemMemory | None, other: ItemMemory | None) -> ItemMemory | None:
    """Two records' item memories as one (identity merge): each item's marks and views
    combined, its latest time kept, the most recent `ITEMS_MAX` items (held ones first)."""
    if not other:
        return into
    if not into:
        return other
    found: dict[int, tuple[int, int, int]] = {}  # item -> (time, category, mark)
    for mem in (other, into):
        for j in range((len(mem) - 1) // 3):
            h, packed, seen = mem[1 + 3 * j], mem[3 * j + 2], mem[3 * j + 3]
            mark = packed & 0xFFFF
            before = found.get(h)
            if before is not None:
                views = min(_VIEWS, (before[2] & _VIEWS) + (mark & _VIEWS))
                mark = ((before[2] | mark) & ~_VIEWS) | views
                seen = max(seen, before[0])
            found[h] = (seen, packed >> 16, mark)
    merged = ItemMemory([into[0]])  # the live record's key facts: the caller decides
    for h, (seen, cat, mark) in sorted(found.items(), key=lambda kv: kv[1][0]):
        merged.extend((h, (cat << 16) | mark, seen))
    while len(merged) > 1 + 3 * ITEMS_MAX:
        drop = _evicted(merged)
        del merged[1 + 3 * drop : 1 + 3 * drop + 3]
    return merged
