"""The SQLite WAL's copy off the commit path (`store._wal`) and the short write transaction that
lets it work (`store._sqlite_tx`): the WAL starts over after each copy instead of growing until
the writer's own automatic checkpoint copies it inside a commit."""

from __future__ import annotations

import os
import sqlite3
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from intently import StoreError
from intently.store import SQLiteStore, _wal
from intently.store._wal import WalCheckpointer


def _frames(db: Path) -> int:
    """Frames in the WAL now: `mxFrame` of the WAL-index header, at byte 16 of the -shm file
    (https://www.sqlite.org/walformat.html)."""
    with open(f"{db}-shm", "rb") as f:
        return int(struct.unpack_from("=I", f.read(20), 16)[0])


def _rows(first: int, events: int = 20) -> list[tuple[int, str, float, float, bytes, int]]:
    return [(first + i, f"c{first + i}", 1.0, 1.0, os.urandom(2000), 0) for i in range(events)]


def _commit(store: SQLiteStore, copy: WalCheckpointer | None = None) -> None:
    """One commit; with `copy`, that copy runs while the transaction is open, as the thread's
    copies run while the engine runs a batch."""
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
    assert grown > 100
    _commit(store, copy=wal)  # copied while the batch ran: its commit begins the WAL again
    assert _frames(db) < grown / 5
    store.close()


def test_a_copy_during_a_write_transaction_cannot_start_it_over(tmp_path: Path) -> None:
    """Why the group commit writes only at its end: a write transaction that was open when the
    copy ended keeps writing after the copied frames, and so does the next one."""
    db = tmp_path / "x.db"
    store = SQLiteStore(db)
    wal = _manual(store)
    grown = 0
    for _ in range(5):
        store._db.execute("BEGIN IMMEDIATE")
        wal.copy()
        store._db.execute("INSERT INTO meta (key, value) VALUES ('k', randomblob(20000)) "
                          "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        store._db.execute("COMMIT")
        assert _frames(db) > grown
        grown = _frames(db)
    store.close()


def test_pages_a_reader_holds_back_wait_for_the_next_copy(tmp_path: Path) -> None:
    """A reader of an older snapshot keeps the copy from taking the pages after it: the WAL
    grows meanwhile, and starts over after the first copy once the reader is gone."""
    db = tmp_path / "x.db"
    store = SQLiteStore(db)
    wal = _manual(store)
    _commit(store)
    reader = sqlite3.connect(db)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM events").fetchone()
    for _ in range(5):
        _commit(store, copy=wal)
    grown = _frames(db)
    assert grown > 100
    reader.rollback()
    reader.close()
    _commit(store, copy=wal)
    assert _frames(db) < grown / 3
    store.close()


def test_the_group_commit_holds_sqlites_write_lock_only_at_its_end(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    store = SQLiteStore(db)
    other = sqlite3.connect(db, isolation_level=None, timeout=0)
    with store.transaction() as tx:
        assert tx.claim(["a", "b"], 1) == set()
        tx.append(_rows(1, 2))
        other.execute("BEGIN IMMEDIATE")  # free while the batch is under way
        other.execute("ROLLBACK")
    assert store.count_events() == 2
    other.close()
    store.close()


def test_a_position_taken_meanwhile_fails_the_commit_and_keeps_nothing(tmp_path: Path) -> None:
    """The store's locks keep other writers out; should one write anyway, the events' inserts
    refuse the commit instead of writing over its log, and none of the batch's claims hold."""
    db = tmp_path / "x.db"
    store = SQLiteStore(db)
    other = sqlite3.connect(db, isolation_level=None)
    tx = store.transaction()
    assert tx.claim(["a", "b"], 1) == set()
    tx.append(_rows(1, 2))
    other.execute("INSERT INTO events (seq, customer_id, ts, received_at, payload) "
                  "VALUES (2, 'x', 1.0, 1.0, x'7b7d')")
    with pytest.raises(StoreError, match="conflicts"):
        tx.commit()
    assert store.count_events() == 1  # the other writer's
    with store.transaction() as again:  # the store goes on, and counts a and b once
        assert again.next_seq() == 3
        assert again.claim(["a", "b", "a"], 3) == {2}
        again.append(_rows(3, 2))
    with store.transaction() as later:
        assert later.claim(["b", "c"], 5) == {0}
    other.close()
    store.close()


@pytest.mark.usefixtures("writer")  # both ways a batch lands
def test_a_long_wal_starts_over_when_each_landing_begins_before_the_copy_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Landings back to back (the engine waits for each to hand over the next) and copies
    slower than them: no copy ends before the next write begins, so without `before_write`
    the WAL grows by every commit. With it, the write that finds the WAL long waits for the
    copy under way, and starts the WAL over."""
    monkeypatch.setattr(_wal, "LONG_COMMITS", 4)
    monkeypatch.setattr(_wal, "LONG_ROWS", 60)  # a commit or two of these rows
    longest, per_commit, waits = _landings_with_slow_copies(tmp_path, monkeypatch, 20)
    assert longest <= 6 * per_commit, (longest, per_commit)  # the bound and its own
    assert waits > 0


@pytest.mark.usefixtures("writer")
def test_a_wal_of_small_commits_is_left_to_grow_a_little(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One event a commit (`/v1/track`): the WAL stays far below `LONG_ROWS`, and waiting
    for its copy would only lengthen each commit: no write waits."""
    monkeypatch.setattr(_wal, "LONG_COMMITS", 4)
    assert _landings_with_slow_copies(tmp_path / "a", monkeypatch, 1)[2] == 0
    monkeypatch.setattr(_wal, "LONG_ROWS", 0)  # the same landings, counting commits only
    assert _landings_with_slow_copies(tmp_path / "b", monkeypatch, 1)[2] > 0


def _landings_with_slow_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               events: int) -> tuple[int, int, int]:
    """40 landings of `events` rows back to back, copies slower than them: the WAL's longest
    length and the first commit's (frames), and the writes that waited."""
    checkpoint = WalCheckpointer._checkpoint

    def slow(self: WalCheckpointer, db: Any) -> bool | None:
        time.sleep(0.05)  # longer than a landing of these few rows
        return checkpoint(self, db)

    monkeypatch.setattr(WalCheckpointer, "_checkpoint", slow)
    tmp_path.mkdir(exist_ok=True)
    db = tmp_path / "x.db"
    store = SQLiteStore(db)
    assert store._wal is not None
    longest = per_commit = 0
    for _ in range(40):
        tx = store.transaction()
        first = tx.next_seq()
        tx.claim([f"m{first + i}" for i in range(events)], first)
        tx.append(_rows(first, events))
        tx.commit_later()
        store.settle()
        per_commit = per_commit or _frames(db)  # the first commit's frames
        longest = max(longest, _frames(db))
    store.settle()
    assert store.count_events() == 40 * events
    waits = store._wal.waits
    store.close()
    return longest, per_commit, waits
