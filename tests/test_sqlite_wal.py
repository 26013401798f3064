"""The SQLite WAL's copy off the commit path (`store._wal`): the WAL starts over after each copy
instead of growing until the writer's own automatic checkpoint copies it inside a commit."""

from __future__ import annotations

import os
import sqlite3
import struct
from pathlib import Path

from intently.store import SQLiteStore
from intently.store._wal import FINISH_AFTER_S, WalCheckpointer


def _frames(db: Path) -> int:
    """Frames in the WAL now: `mxFrame` of the WAL-index header, at byte 16 of the -shm file
    (https://www.sqlite.org/walformat.html)."""
    with open(f"{db}-shm", "rb") as f:
        return int(struct.unpack_from("=I", f.read(20), 16)[0])


def _rows(first: int, events: int = 20) -> list[tuple[int, str, float, float, bytes, int]]:
    return [(first + i, f"c{first + i}", 1.0, 1.0, os.urandom(2000), 0) for i in range(events)]


def _commit(store: SQLiteStore, copy: WalCheckpointer | None = None) -> None:
    """One commit; with `copy`, that copy runs while the transaction is open, as the thread's
    copies run while the writer's batches are under way."""
    with store.transaction() as tx:
        if copy is not None:
            copy.copy()
        tx.append(_rows(tx.next_seq()))


def _manual(store: SQLiteStore) -> WalCheckpointer:
    """The store's WAL copy with no thread of its own: the test calls `copy`."""
    assert store._wal is not None
    store._wal.close()
    store._wal = WalCheckpointer(store.path, every_s=1e9, start=False)
    return store._wal


def test_the_wal_starts_over_after_a_copy(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    store = SQLiteStore(db)
    wal = _manual(store)
    for _ in range(10):
        _commit(store)
    grown = _frames(db)
    _commit(store, copy=wal)  # the copy took every page but this commit's: the writer copies
    assert wal.finished == 1  # those itself...
    _commit(store)  # ...so this transaction began with every page copied: the WAL starts over
    assert _frames(db) < grown / 5
    store.close()


def test_without_the_writers_part_the_wal_only_grows(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    store = SQLiteStore(db)
    wal = _manual(store)
    wal.finish = lambda db: None  # type: ignore[method-assign]
    grown = 0
    for _ in range(10):
        _commit(store, copy=wal)
        assert _frames(db) > grown
        grown = _frames(db)
    store.close()


def test_pages_a_reader_holds_back_are_left_to_the_thread(tmp_path: Path) -> None:
    """A reader of an older snapshot keeps the copy from taking the pages after it: when it
    ends, they may be many, and the writer must not pause to copy them."""
    db = tmp_path / "x.db"
    store = SQLiteStore(db)
    wal = _manual(store)
    _commit(store)
    reader = sqlite3.connect(db)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM events").fetchone()
    for _ in range(5):
        _commit(store)
    _commit(store, copy=wal)
    assert wal.finished == 0
    reader.rollback()
    reader.close()
    store.close()


def test_the_writer_copies_only_after_a_quick_commit_just_after_a_whole_copy(
        tmp_path: Path) -> None:
    wal = WalCheckpointer(str(tmp_path / "y.db"), every_s=1e9, start=False)
    assert not wal.committed(0.001)  # nothing copied yet
    wal.copy()
    assert not wal.committed(FINISH_AFTER_S * 2)  # a long commit: the thread copies it
    assert not wal.committed(0.001)  # and the note is spent
    wal.copy()
    assert wal.committed(0.001)
    wal.close()
