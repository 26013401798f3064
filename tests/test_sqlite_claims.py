"""The SQLite backend's message ids (`store._claims`): kept in the order they are claimed, found
through a hash index in memory that each hit is checked against, so neither a hash two ids share
nor a batch that failed to land makes a new event a duplicate."""

from __future__ import annotations

import random
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import pytest

from intently import StoreError
from intently._threads import SWITCH_INTERVAL_S
from intently.store import SQLiteStore, _claims, _claims_snapshot
from intently.store._claims import HashIndex


def _rows(first: int, n: int) -> list[tuple[int, str, float, float, bytes, int]]:
    return [(first + i, f"c{first + i}", 1.0, 1.0, b"{}", 0) for i in range(n)]


def _land(store: SQLiteStore, ids: list[str]) -> set[int]:
    """Claim these ids for the next positions, append the events that are new, commit."""
    with store.transaction() as tx:
        first = tx.next_seq()
        dupes = tx.claim(ids, first)
        rows = [r for i, r in enumerate(_rows(first, len(ids))) if i not in dupes]
        tx.append(rows)
    return dupes


def test_the_index_keeps_the_first_value_of_each_key_as_it_grows() -> None:
    """Against a dict: calls of one key to thousands (probed one by one, or with NumPy), keys
    repeated within a call and across calls, through several doublings and their moves."""
    index, ref = HashIndex(), dict[int, int]()
    rng = random.Random(7)
    for _ in range(120):
        n = rng.choice([1, 2, 16, 17, 400, 2500])
        keys = [rng.getrandbits(18) - (1 << 17) or 1 for _ in range(n)]  # many repeats
        vals = [rng.randrange(1, 1 << 40) for _ in range(n)]
        assert index.find(keys) == [ref.get(k, 0) for k in keys]
        held = set(index.put(keys, vals))
        placed = Counter(k for i, k in enumerate(keys) if i not in held)
        assert set(placed.values()) <= {1}  # each new key once
        assert not placed.keys() & ref.keys()  # no key held already
        assert {k for k in keys if k not in ref} == placed.keys()  # every new key
        ref.update((k, vals[i]) for i, k in enumerate(keys) if i not in held)
        assert index.count == len(ref)
    assert index.slots >= 4 * 1024  # it grew
    assert index.find(list(ref)) == list(ref.values())


@pytest.mark.usefixtures("writer")  # both ways a batch lands
def test_ids_claimed_before_are_duplicates_after_reopening(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    ids = [f"m{i}" for i in range(3000)]
    assert _land(store, ids[:2000]) == set()
    assert _land(store, [*ids[1000:], "m5"]) == set(range(1000)) | {2000}
    assert _land(store, ["m7", "new"]) == {0}  # a small call, probed one by one
    store.close()
    again = SQLiteStore(tmp_path / "x.db")  # the index is loaded from `claims`
    assert _land(again, [*ids[::7], "newer"]) == set(range(len(ids[::7])))
    assert again.count_events() == 3002
    again.close()


@pytest.mark.usefixtures("writer")
def test_ids_that_share_a_hash_are_told_apart(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """With a hash of the id's length, ids of one length all share one: each is still new once
    and a duplicate after, in the process that claimed it and in the next."""
    monkeypatch.setattr(_claims, "digest", len)
    store = SQLiteStore(tmp_path / "x.db")
    assert _land(store, ["a"]) == set()
    assert _land(store, ["b", "a"]) == {1}
    assert _land(store, [f"x{i}" for i in range(20)] + ["c"]) == set()
    assert _land(store, ["a", "b", "c", "d", "x3"]) == {0, 1, 2, 4}
    store.close()
    again = SQLiteStore(tmp_path / "x.db")
    assert _land(again, ["d", "c", "e", "x19", "x20"]) == {0, 1, 3}
    assert again.count_events() == 26
    again.close()


def test_a_batch_that_failed_to_land_makes_nothing_a_duplicate(tmp_path: Path) -> None:
    """The index takes a batch's claims when it is handed to the commit thread; the batch then
    fails (another writer took a position): each claim the index gives is checked against the
    table, so the same ids are new again."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # the commit thread writes the batch
    try:
        store = SQLiteStore(tmp_path / "x.db")
        assert _land(store, ["warm"]) == set()
        other = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
        tx = store.transaction()
        ids = [f"m{i}" for i in range(40)]
        assert tx.claim(ids, 2) == set()
        tx.append(_rows(2, 40))
        other.execute("INSERT INTO events (seq, customer_id, ts, received_at, payload) "
                      "VALUES (41, 'x', 1.0, 1.0, x'7b7d')")
        landing = tx.commit_later()
        with pytest.raises(StoreError):
            landing.result(10)
        with pytest.raises(StoreError):
            store.settle()
        assert _land(store, [*ids[:20], "m1"]) == {20}
        assert _land(store, ids) == set(range(20))
        other.close()
        store.close()
    finally:
        sys.setswitchinterval(before)


def test_a_position_claimed_but_not_logged_is_claimed_again(tmp_path: Path) -> None:
    """An event claimed and then not logged (a repeated order) leaves its position to the next
    commit's first event: both ids stay claimed."""
    store = SQLiteStore(tmp_path / "x.db")
    with store.transaction() as tx:
        assert tx.claim(["a", "b"], 1) == set()
        tx.append(_rows(1, 1))  # b's event is not logged
    with store.transaction() as tx:
        assert tx.next_seq() == 2
        assert tx.claim(["c"], 2) == set()
        tx.append(_rows(2, 1))
    store.close()
    again = SQLiteStore(tmp_path / "x.db")
    assert _land(again, ["b", "c", "a", "d"]) == {0, 1, 2}
    again.close()


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> None:
    """Indexes of any size are saved when their store closes (the product saves large ones)."""
    monkeypatch.setattr(_claims_snapshot, "AT_LEAST", 0)


@pytest.mark.usefixtures("saved")
def test_a_closed_store_reads_its_index_back_and_still_finds_every_id(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    ids = [f"m{i}" for i in range(3000)]
    for start in range(0, 2000, 500):
        assert _land(store, ids[start : start + 500]) == set()
    store.close()
    assert _claims_snapshot.path_for(str(tmp_path / "x.db")).exists()
    store = SQLiteStore(tmp_path / "x.db")
    assert _land(store, ids[1500:2500]) == set(range(500))  # the first 500 were claimed
    assert store._claims.restored
    store.close()
    store = SQLiteStore(tmp_path / "x.db")  # saved again, with the new ones
    assert _land(store, ids) == set(range(2500)) and store._claims.restored
    store.close()


@pytest.mark.usefixtures("saved")
def test_rows_a_writer_left_without_closing_are_added_to_the_saved_index(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    assert _land(store, ["a", "b"]) == set()
    store.close()
    store = SQLiteStore(tmp_path / "x.db")
    assert _land(store, ["c", "d"]) == set()
    with monkeypatch.context() as stopped:  # as if the process died: the old file stays
        stopped.setattr(_claims.Claims, "save", lambda self, db: None)
        store.close()
    store = SQLiteStore(tmp_path / "x.db")
    assert _land(store, ["a", "d", "e"]) == {0, 1} and store._claims.restored
    store.close()


@pytest.mark.usefixtures("saved")
def test_a_saved_index_that_does_not_match_the_database_is_not_used(tmp_path: Path) -> None:
    one, other = tmp_path / "one.db", tmp_path / "other.db"
    for path, ids in ((one, ["a", "b", "c"]), (other, ["x", "y"])):
        store = SQLiteStore(path)
        assert _land(store, ids) == set()
        store.close()
    saved_one = _claims_snapshot.path_for(str(one))
    saved_other = _claims_snapshot.path_for(str(other))
    saved_other.write_bytes(saved_one.read_bytes())  # another database's
    store = SQLiteStore(other)
    assert _land(store, ["x", "a", "z"]) == {0} and not store._claims.restored
    store.close()
    saved_other.write_bytes(saved_other.read_bytes()[:-8])  # cut short
    store = SQLiteStore(other)
    assert _land(store, ["y", "b"]) == {0} and not store._claims.restored
    store.close()
