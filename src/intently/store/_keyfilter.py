"""The SQLite backend's filters of identity keys and order ids: which keys its writer may hold,
in memory.

Most keys an engine asks its store about are new: a first visit's anonymous id, a first
sign-in's user id and email, a new order's id. Once the engine's identity map has outgrown
its cache and been dropped, each such key was a query that found nothing (at 200,000
customers, 1.13 million of 1.2 million keys asked, 2.4 s of an 83 s ingest). A Bloom filter
of every key the store holds answers those without a query: a key the filter never saw is
not in the store; one it may have seen is looked up as before (its false positives: about one
new key in a hundred when a layer is full, fewer before).

Ten bits a key and seven probes, in layers: the first is sized for twice the keys the store
held when it loaded, and when a layer has taken the keys it was sized for, the next is twice
as large, so nothing is ever rebuilt (3.3 million keys, a million customers' worth, load in
about 2 s into 8 MiB, the table's scan most of it: a load sets its bits in one step,
`_Layer.add`). Keys are hashed with Python's own string hash (the filter lives and dies
with the process, so its per-process seed does no harm).

The writer loads a filter the first time it is asked about a batch of keys, by a scan of the
table (an engine whose identity map never outgrows its cache never asks; until then a single
key is asked of the table: one look-up is not worth a scan of them all). While the writer
holds the store no other process writes to it, so the filter stays complete: every write of a
key adds it first (before it is durable: a key of a commit that then failed only costs a
query). A read-only store asks the table: another process may be writing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

BITS_PER_KEY = 10
PROBES = 7
FEWEST_KEYS = 1 << 16
"""Keys the first layer is sized for, at least."""
SMALL = 16
"""Calls with this many keys or fewer probe one by one (NumPy's calls cost more)."""
BULK_RATIO = 100
"""Keys set their bits through a bool a bit when their probes number more than a hundredth of
the layer's bits (unpacking and packing the layer costs about what `bitwise_or.at` costs for
that many)."""
_LOW = 0xFFFF_FFFF
_BITS64 = 0xFFFF_FFFF_FFFF_FFFF


class _Layer:
    """One Bloom filter: `capacity` keys at `BITS_PER_KEY` bits each (rounded up to a power of
    two), `PROBES` bits a key, by double hashing of the key's 64-bit hash."""

    def __init__(self, capacity: int) -> None:
        import numpy as np

        bits = 1 << max(6, (capacity * BITS_PER_KEY - 1).bit_length())
        self.capacity = capacity
        self.count = 0
        self.mask = bits - 1
        self.bytes = bytearray(bits // 8)
        self.array: npt.NDArray[np.uint8] = np.frombuffer(self.bytes, np.uint8)

    def add(self, hashes: npt.NDArray[np.uint64]) -> None:
        import numpy as np

        first, step = hashes & _LOW, (hashes >> np.uint64(32)) | np.uint64(1)
        if len(hashes) * PROBES * BULK_RATIO > self.mask:
            # many keys for the layer's size (a load): its bits as one bool each, set all at
            # once and packed back (setting True twice is harmless, where OR-ing bytes through
            # `bitwise_or.at` goes one element at a time: 1.0 s of a 3.3 million-key load)
            bits = np.unpackbits(self.array, bitorder="little").view(bool)
            for i in range(PROBES):
                bits[(first + np.uint64(i) * step) & np.uint64(self.mask)] = True
            self.array[:] = np.packbits(bits, bitorder="little")
        else:
            for i in range(PROBES):
                at = (first + np.uint64(i) * step) & np.uint64(self.mask)
                np.bitwise_or.at(self.array, at >> np.uint64(3),
                                 np.left_shift(1, (at & np.uint64(7))).astype(np.uint8))
        self.count += len(hashes)

    def add_one(self, h: int) -> None:
        first, step, mask, data = h & _LOW, (h >> 32) | 1, self.mask, self.bytes
        for i in range(PROBES):
            at = (first + i * step) & mask
            data[at >> 3] |= 1 << (at & 7)
        self.count += 1

    def has(self, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        import numpy as np

        first, step = hashes & _LOW, (hashes >> np.uint64(32)) | np.uint64(1)
        held = np.ones(len(hashes), bool)
        for i in range(PROBES):
            at = (first + np.uint64(i) * step) & np.uint64(self.mask)
            held &= ((self.array[at >> np.uint64(3)] >> (at & np.uint64(7))) & 1).astype(bool)
        return held

    def has_one(self, h: int) -> bool:
        first, step, mask, data = h & _LOW, (h >> 32) | 1, self.mask, self.bytes
        for i in range(PROBES):
            at = (first + i * step) & mask
            if not data[at >> 3] >> (at & 7) & 1:
                return False
        return True


def _hashes(keys: Sequence[str]) -> npt.NDArray[np.uint64]:
    import numpy as np

    return np.fromiter((hash(k) for k in keys), np.int64, len(keys)).view(np.uint64)


class KeyFilter:
    """The keys a store holds, maybe: `may_hold` is False only for keys never added."""

    def __init__(self) -> None:
        self._layers: list[_Layer] = []
        self.loaded = False
        self.pending: list[str] = []
        """Keys written by the open transaction before the filter was loaded (the scan that
        loads it cannot see them): taken in by `load`, dropped when the transaction ends."""

    def load(self, keys: Iterable[Sequence[str]], expected: int) -> None:
        """Take in every key the store holds (`keys`, in chunks), sized for `expected`."""
        import numpy as np

        self._layers = [_Layer(max(FEWEST_KEYS, 2 * expected))]
        self.loaded = True
        hashed = [_hashes(chunk) for chunk in (*keys, self.pending) if len(chunk)]
        self.pending = []
        if hashed:  # in one call: a layer takes many keys at once far faster (`_Layer.add`)
            self._add(np.concatenate(hashed))

    def stage(self, keys: Sequence[str]) -> None:
        """Keys the open transaction writes: taken in now, or by `load`."""
        if self.loaded:
            self.add(keys)
        else:
            self.pending += keys

    def add(self, keys: Sequence[str]) -> None:
        """Keys the store is about to hold (or may: added before the write is durable). Not
        loaded yet: nothing to do, the scan that loads it will find them."""
        if not keys or not self.loaded:
            return
        if len(keys) <= SMALL:
            layer = self._layer_for(len(keys))
            for k in keys:
                layer.add_one(hash(k) & _BITS64)
        else:
            self._add(_hashes(keys))

    def _add(self, hashes: npt.NDArray[np.uint64]) -> None:
        self._layer_for(len(hashes)).add(hashes)

    def _layer_for(self, n: int) -> _Layer:
        """The layer that takes `n` more keys: the last, or a new one twice as large."""
        layer = self._layers[-1]
        if layer.count + n > layer.capacity:
            layer = _Layer(max(2 * layer.capacity, n))
            self._layers.append(layer)
        return layer

    def may_hold(self, keys: Sequence[str]) -> list[bool]:
        """For each key, whether the store may hold it (False: it does not). Not loaded yet:
        any of them."""
        if not self.loaded:
            return [True] * len(keys)
        layers = self._layers
        if len(keys) <= SMALL:
            return [any(layer.has_one(hash(k) & _BITS64) for layer in layers) for k in keys]
        hashes = _hashes(keys)
        held = layers[0].has(hashes)
        for layer in layers[1:]:
            held |= layer.has(hashes)
        found: list[bool] = held.tolist()
        return found

    @property
    def layers(self) -> int:
        return len(self._layers)

    @property
    def nbytes(self) -> int:
        return sum(len(layer.bytes) for layer in self._layers)
