"""The item memory's storage: an array of unsigned 32-bit words (`_items` reads and writes it;
kept apart because mypyc does not compile subclasses of built-in types)."""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # words are ints: the compiled `_items` does native arithmetic on them
    _Words = array[int]
else:  # (array is not subscriptable at run time before Python 3.12)
    _Words = array


class ItemMemory(_Words):
    """Unsigned 32-bit words: first, the facts of the journey's key action when an item made
    it (`ItemView.facts`, 0: none); then three per item, oldest item first: the CRC-32 of the
    item id; the high 16 bits of its category's CRC-32 (0: none) above its mark (views |
    CARTED | FAVED | BOUGHT); and when it was last seen, in epoch seconds rounded up. 12 bytes
    an item: a record keeps no item id as text (the key event names it)."""

    __slots__ = ()

    def __new__(cls, values: Iterable[int] = ()) -> ItemMemory:
        return cast(ItemMemory, super().__new__(cls, "I", values))

    def to_dict(self) -> list[dict[str, Any]]:
        """The items, newest first, as people read them (ids as their CRC-32)."""
        from ._items import _VIEWS, BOUGHT, CARTED, FAVED  # the marks' bits (compiled there)

        out = []
        for j in range((len(self) - 1) // 3 - 1, -1, -1):
            m = self[3 * j + 2] & 0xFFFF
            out.append({"item_crc32": f"{self[1 + 3 * j]:08x}",
                        "last_seen": float(self[3 * j + 3]),
                        "views": m & _VIEWS, "carted": bool(m & CARTED),
                        "favourite": bool(m & FAVED), "bought": bool(m & BOUGHT)})
        return out
