"""The SQLite backend's message-id claims: one row a commit, and a hash index in memory.

Every event asks whether its message id was seen before. A B-tree keyed by the ids (schema 5's
`message_ids`) answers, but the ids are random: each new one lands on a page of its own, so
once the tree outgrew the page cache every event wrote a page of it to the WAL, which the
checkpoint then copied (at a million customers the durable floor ran at 38,700 events a second
with it, 68,600 with this). Here a commit's claims are one row of `claims`, numbered in the
order commits claim (so each commit appends its row at the table's end): the log positions and
64-bit hashes of its ids, packed, and the ids themselves, as a JSON array. The look-up is a
table of hashes in memory (`HashIndex`: open addressing in two NumPy arrays, 16 bytes a slot,
at most 0.7 full), loaded from the packed hashes when the store first claims. It gives, for a
hash, the id's place (its row's number and its index there); that row is then read and its id
compared, so neither two ids sharing a hash nor a claim whose commit failed (the index takes a
batch's claims when it is handed over, before it is durable, and a later row may take its
number) makes a new event a duplicate. An id whose hash the index holds for another is kept by
id (`Claims.overflow`). Rows are numbered, not keyed by position: a position claimed by an
event that was then not logged (a repeated order) is taken by the next commit's first event.

The index costs memory for the whole log (about 23 to 46 bytes an event), as the B-tree cost
pages: the ids are kept for good, as they were.
"""

from __future__ import annotations

import logging
import mmap
import sqlite3
from collections.abc import Sequence
from hashlib import blake2b
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import msgspec

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Ints = npt.NDArray[np.int64]

_log = logging.getLogger("intently.store")

MAX_FILL = 0.7
"""The index grows (doubles) before more of its slots than this are taken."""
SMALL = 16
"""Look-ups of this many keys or fewer probe one by one (NumPy's calls cost more)."""
MIGRATE_ROWS = 2000
"""Ids a row of `claims` holds when schema 5's are moved there (a commit's, in the bench)."""


def digest(message_id: str) -> int:
    """The id's 64-bit hash as a signed integer (SQLite's), never 0 (the index's empty slot)."""
    data = message_id.encode("utf-8", "surrogatepass")
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "little", signed=True) or 1


def _size_for(keys: int) -> int:
    size = 1024
    while size * MAX_FILL < keys:
        size *= 2
    return size


def _zeros(size: int) -> Ints:
    """`size` zeros, in pages of anonymous memory the kernel zeroes when first touched. (A
    large `np.zeros` asks for huge pages: the first write to one zeroes 2 MiB, so the first
    writes to a fresh table, at random slots, zeroed all of it, a pause of 0.2 s at 16
    million slots.)"""
    import numpy as np

    return np.frombuffer(mmap.mmap(-1, size * 8), np.int64)


def _listed(values: Sequence[int] | Ints) -> list[int]:
    return values if isinstance(values, list) else [int(v) for v in values]


class _Table:
    """One open-addressing table: non-zero 64-bit keys to values, by linear probing."""

    def __init__(self, size: int) -> None:
        self.keys: Ints = _zeros(size)
        self.vals: Ints = _zeros(size)
        self.mask = size - 1
        self.count = 0

    def full_after(self, more: int) -> bool:
        return self.count + more > MAX_FILL * (self.mask + 1)

    def find(self, keys: Sequence[int]) -> list[int]:
        """The value each key maps to, 0 where it maps to none."""
        if len(keys) <= SMALL:
            return [self._find_one(k) for k in keys]
        import numpy as np

        wanted = np.array(keys, np.int64)
        out = np.zeros(len(wanted), np.int64)
        todo = np.arange(len(wanted))
        at = wanted & self.mask
        while todo.size:
            if todo.size <= SMALL:  # the long probes' last few, one by one
                for i in todo.tolist():
                    out[i] = self._find_one(int(wanted[i]))
                break
            held = self.keys[at]
            hit = held == wanted[todo]
            out[todo[hit]] = self.vals[at[hit]]
            more = ~hit & (held != 0)
            todo, at = todo[more], (at[more] + 1) & self.mask
        result: list[int] = out.tolist()
        return result

    def _find_one(self, key: int) -> int:
        keys, mask = self.keys, self.mask
        at = key & mask
        while True:
            held = keys.item(at)
            if held == key:
                return int(self.vals.item(at))
            if held == 0:
                return 0
            at = (at + 1) & mask

    def put(self, keys: Sequence[int] | Ints, vals: Sequence[int] | Ints) -> list[int]:
        """Map each key to its value, unless the key is held already (or given earlier in the
        same call): returns the indexes in `keys` of those, which keep the value they had."""
        if len(keys) <= SMALL:
            return self._put_few(_listed(keys), _listed(vals))
        import numpy as np

        new_keys = np.array(keys, np.int64)
        new_vals = np.array(vals, np.int64)
        held_already: list[int] = []
        todo = np.arange(len(new_keys))
        at = new_keys & self.mask
        while todo.size:
            if todo.size <= SMALL:  # the long probes' last few, one by one
                few = self._put_few(new_keys[todo].tolist(), new_vals[todo].tolist())
                held_already += todo[few].tolist()
                break
            held = self.keys[at]
            same = held == new_keys[todo]
            if same.any():
                held_already += todo[same].tolist()
            free = held == 0
            placed = np.zeros(len(todo), bool)
            if free.any():  # several may want one free slot: the last written has it
                slots, who = at[free], todo[free]
                self.keys[slots] = new_keys[who]
                self.vals[slots] = new_vals[who]
                won = (self.keys[slots] == new_keys[who]) & (self.vals[slots] == new_vals[who])
                self.count += int(np.count_nonzero(won))
                placed[np.flatnonzero(free)[won]] = True
            # a free slot lost to another key is tried again (it holds that key now)
            at = np.where(free, at, (at + 1) & self.mask)
            keep = ~(same | placed)
            todo, at = todo[keep], at[keep]
        return held_already

    def _put_few(self, keys: list[int], vals: list[int]) -> list[int]:
        table, mask = self.keys, self.mask
        held_already = []
        for i, key in enumerate(keys):
            at = key & mask
            while (held := table.item(at)) not in (0, key):
                at = (at + 1) & mask
            if held == key:
                held_already.append(i)
            else:
                table[at], self.vals[at] = key, vals[i]
                self.count += 1
        return held_already


class HashIndex:
    """Non-zero 64-bit keys to values (the ids' places). It grows by doubling, and moves its
    keys to the larger table a few at a time, with each `put` (as Redis rehashes its
    dictionaries): no call waits for the whole table to be copied (at five million ids that
    took seconds)."""

    MOVE_PER_KEY = 4
    """Slots of the old table moved for each key put (at least `MOVE_AT_LEAST` a call): the
    move ends long before the new table fills."""
    MOVE_AT_LEAST = 1024

    def __init__(self, expected: int = 0) -> None:
        self._table = _Table(_size_for(expected))
        self._old: _Table | None = None  # the table being moved, from slot `_moved` on
        self._moved = 0

    @classmethod
    def restored(cls, keys: Ints, vals: Ints, count: int) -> HashIndex:
        """The index whose one table `arrays` gave (`_claims_snapshot`)."""
        index = cls()
        table = index._table
        table.keys, table.vals, table.mask, table.count = keys, vals, len(keys) - 1, count
        return index

    def arrays(self) -> tuple[Ints, Ints, int]:
        """The index's table (a move under way is finished first): its keys, its values, and
        how many slots are taken."""
        self._move(None)
        table = self._table
        return table.keys, table.vals, table.count

    @property
    def slots(self) -> int:
        return self._table.mask + 1 + (0 if self._old is None else self._old.mask + 1)

    @property
    def count(self) -> int:
        old = self._old
        rest = 0 if old is None else int((old.keys[self._moved :] != 0).sum())
        return self._table.count + rest

    def find(self, keys: Sequence[int]) -> list[int]:
        """The value each key maps to, 0 where it maps to none."""
        found = self._table.find(keys)
        old = self._old
        if old is not None:
            missing = [i for i, s in enumerate(found) if not s]
            if missing:
                for i, s in zip(missing, old.find([keys[i] for i in missing]), strict=True):
                    found[i] = s
        return found

    def put(self, keys: Sequence[int] | Ints, vals: Sequence[int] | Ints) -> list[int]:
        """Map each key to its value, unless the key is held already (or given earlier in the
        same call): returns the indexes in `keys` of those, which keep the value they had."""
        n = len(keys)
        if not n:
            return []
        if self._table.full_after(n):
            self._move(None)  # what is left of the last move first
            self._old = self._table
            self._table = _Table(_size_for(2 * (self._old.count + n)))
            self._moved = 0
            _log.info("message-id index grows", extra={"slots": self._table.mask + 1})
        old = self._old
        positions = list(range(n))
        held: list[int] = []
        if old is not None:  # keys the old table holds, not moved yet, are held already
            keys, vals = _listed(keys), _listed(vals)
            in_old = old.find(keys)
            held = [i for i, s in enumerate(in_old) if s]
            if held:
                positions = [i for i, s in enumerate(in_old) if not s]
                keys = [keys[i] for i in positions]
                vals = [vals[i] for i in positions]
        held += [positions[i] for i in self._table.put(keys, vals)]
        if old is not None:
            self._move(max(self.MOVE_AT_LEAST, self.MOVE_PER_KEY * n))
        return sorted(held)

    def _move(self, slots: int | None) -> None:
        """Move this many slots of the old table (None: all that are left)."""
        old = self._old
        if old is None:
            return
        start = self._moved
        end = old.mask + 1 if slots is None else min(old.mask + 1, start + slots)
        keys, vals = old.keys[start:end], old.vals[start:end]
        taken = keys != 0
        self._table.put(keys[taken], vals[taken])
        self._moved = end
        if end > old.mask:
            self._old = None


ROW_BITS = 20
"""An id's place in the index: its row of `claims` shifted by this, plus its index there."""
ROW_IDS = 1 << 16
"""The most ids a row of `claims` holds (a larger commit writes several)."""


class Written(NamedTuple):
    """A commit's claims as `claims` rows, and as the index will hold them."""

    rows: list[tuple[int, bytes, str]]
    ids: list[str]
    keys: list[int]
    places: list[int]


class Claims:
    """The message ids a SQLite store holds, for its writer: `held` answers, `written` gives a
    commit's rows and `add` puts them in the index. Used under the store's lock."""

    def __init__(self, snapshot: Path | None = None) -> None:
        """`snapshot`: where the index is saved when the store closes, and read back from
        (`_claims_snapshot`); None: never saved."""
        self._index: HashIndex | None = None
        self._next_row = 1
        self.overflow: dict[str, int] = {}
        """Ids whose hash the index gives to another id, with their places."""
        self.snapshot = snapshot
        self.restored = False
        """Whether the index was read back from its snapshot (else built from `claims`)."""

    def held(self, db: sqlite3.Connection, ids: Sequence[str], hashes: dict[str, int],
             collided: set[str]) -> dict[str, int]:
        """The position that claimed each of these ids, for those `db` holds. Their hashes
        go to `hashes`, and the ids whose hash another id holds to `collided`."""
        index = self._loaded(db)
        keys = [digest(m) for m in ids]
        hashes.update(zip(ids, keys, strict=True))
        overflow = self.overflow
        maybe = [(m, p) for m, p in zip(ids, index.find(keys), strict=True) if p]
        if overflow:
            maybe += [(m, overflow[m]) for m in ids if m in overflow]
        if not maybe:
            return {}
        stored = _rows(db, list({p >> ROW_BITS for _, p in maybe}))
        found: dict[str, int] = {}
        for m, place in maybe:
            row, i = stored.get(place >> ROW_BITS), place & (ROW_IDS - 1)
            if row is None or i >= len(row[1]):
                continue  # a row whose commit failed
            if row[1][i] == m:
                found[m] = row[0][i]
            else:
                collided.add(m)
        return found

    def written(self, claimed: dict[str, int], hashes: dict[str, int]) -> Written:
        """The `claims` rows of ids claimed at these positions, numbered on from the last
        row, each with the positions and hashes packed in order and the ids as a JSON array
        in the same order."""
        if not claimed:
            return Written([], [], [], [])
        import numpy as np

        ids = list(claimed)
        keys = [hashes[m] if m in hashes else digest(m) for m in ids]
        pairs = np.empty((len(ids), 2), "<i8")
        pairs[:, 0] = list(claimed.values())
        pairs[:, 1] = keys
        out = Written([], ids, keys, [])
        for start in range(0, len(ids), ROW_IDS):
            number, self._next_row = self._next_row, self._next_row + 1
            part = slice(start, start + ROW_IDS)
            text = msgspec.json.encode(ids[part]).decode()
            out.rows.append((number, pairs[part].tobytes(), text))
            first = number << ROW_BITS
            out.places.extend(range(first, first + len(ids[part])))
        return out

    def add(self, written: Written, collided: set[str]) -> None:
        """A commit's claims are handed over, or committed: the index holds them. An id whose
        hash the index holds already (another id's, or one of a commit that failed) is kept
        by id."""
        if self._index is None or not written.ids:
            return  # loaded, with these rows, when first asked
        ids, keys, places = written.ids, written.keys, written.places
        overflow = self.overflow
        if collided:  # (rare: a hash the index holds for another id)
            plain = [i for i, m in enumerate(ids) if m not in collided]
            overflow.update((m, places[i]) for i, m in enumerate(ids) if m in collided)
            ids = [ids[i] for i in plain]
            keys = [keys[i] for i in plain]
            places = [places[i] for i in plain]
        for i in self._index.put(keys, places):
            overflow[ids[i]] = places[i]

    def _loaded(self, db: sqlite3.Connection) -> HashIndex:
        index = self._index
        if index is None:
            from . import _claims_snapshot

            restored = (_claims_snapshot.read(db, self.snapshot)
                        if self.snapshot is not None else None)
            if restored is not None:
                index, last, overflow = restored
                self.overflow.update(overflow)
                index, last = _load(db, self.overflow, after=last, index=index)
                self.restored = True
            else:
                index, last = _load(db, self.overflow)
            self._index, self._next_row = index, last + 1
        return index

    def save(self, db: sqlite3.Connection) -> None:
        """Save the index to its snapshot, when it holds enough ids to be worth it (the
        store is closing, its commits settled)."""
        from . import _claims_snapshot

        index = self._index
        if self.snapshot is None or index is None or index.count < _claims_snapshot.AT_LEAST:
            return
        _claims_snapshot.write(db, self.snapshot, index, self.overflow)


def _rows(db: sqlite3.Connection, numbers: list[int]) -> dict[int, tuple[list[int], list[str]]]:
    """The positions and ids of these rows of `claims`, for those it holds."""
    import numpy as np

    found: dict[int, tuple[list[int], list[str]]] = {}
    for start in range(0, len(numbers), 500):
        part = numbers[start : start + 500]
        for number, packed, ids in db.execute(
                f"SELECT id, hashes, ids FROM claims WHERE id IN ({','.join('?' * len(part))})",
                part):
            found[number] = (np.frombuffer(packed, "<i8")[0::2].tolist(),
                             msgspec.json.decode(ids))
    return found


def _load(db: sqlite3.Connection, overflow: dict[str, int], after: int = 0,
          index: HashIndex | None = None) -> tuple[HashIndex, int]:
    """The index of every id `claims` holds in rows after `after` (`index` with them put in,
    or a new one), and the last row's number; ids whose hash an earlier id took go to
    `overflow`."""
    import numpy as np

    keys, places, last = [], [], after
    for number, packed in db.execute("SELECT id, hashes FROM claims WHERE id > ?", (after,)):
        last = max(last, number)
        pairs = np.frombuffer(packed, "<i8")
        keys.append(pairs[1::2])
        places.append(np.arange(len(pairs) // 2, dtype=np.int64) + (number << ROW_BITS))
    if not keys:
        return index or HashIndex(), last
    every = np.concatenate(places)
    if index is None:
        index = HashIndex(len(every))
    pushed_out = every[index.put(np.concatenate(keys), every)].tolist()
    if pushed_out:  # a hash two ids share: the earlier one holds the slot
        stored = _rows(db, list({p >> ROW_BITS for p in pushed_out}))
        overflow.update((stored[p >> ROW_BITS][1][p & (ROW_IDS - 1)], p) for p in pushed_out)
        _log.warning("message ids share a hash", extra={"ids": len(pushed_out)})
    return index, last


def migrate(db: sqlite3.Connection) -> None:
    """Schema 6 keeps the ids in `claims` (see the module's note): move schema 5's
    `message_ids` there, in the order they were claimed, `MIGRATE_ROWS` a row."""
    if not db.execute("SELECT 1 FROM sqlite_schema WHERE name = 'message_ids'").fetchone():
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("CREATE TABLE IF NOT EXISTS claims (id INTEGER PRIMARY KEY, "
                   "hashes BLOB NOT NULL, ids TEXT NOT NULL)")
        claims = Claims()
        rows = db.execute("SELECT message_id, seq FROM message_ids ORDER BY seq")
        while part := rows.fetchmany(MIGRATE_ROWS):
            claimed = dict(part)
            db.executemany("INSERT INTO claims (id, hashes, ids) VALUES (?, ?, ?)",
                           claims.written(claimed, {}).rows)
        db.execute("DROP TABLE message_ids")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
