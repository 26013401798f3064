"""A table's rows in one SQLite statement (`store._sqlite_bulk`): every value comes back as it
went in, text with a NUL, blobs and doubles included, in the store's landing commits too,
whichever thread writes them (`_sqlite_landing.hands_over`)."""

from __future__ import annotations

import random
import sqlite3
import struct
import sys
from pathlib import Path

import pytest

from intently._threads import CPYTHON_SWITCH_INTERVAL_S, SWITCH_INTERVAL_S
from intently.engine import tune_threads
from intently.store import (
    AccountUpdate,
    JournalEntry,
    Merge,
    OutboxRow,
    SegmentChange,
    SQLiteStore,
    _sqlite_landing,
)
from intently.store._sqlite_bulk import Bulk

TEXTS = ["", "plain", "a\x00b", "\x00", "naïve ☕ 𝄞", "back\\slash \"quoted\"", "\\u0000",
         "x" * 5000]
BLOBS = [b"", b"\x00\x01\xff", b"{}", bytes(range(256)) * 20]
ROWS = Bulk("INSERT INTO t (i, s, f, b, n) SELECT {} FROM json_each(?1) AS j", "ntnbn",
            "INSERT INTO t (i, s, f, b, n) VALUES (?, ?, ?, ?, ?)")


def _doubles(n: int) -> list[float]:
    rnd = random.Random(7)
    out = [0.0, -0.0, 1.0, 1e-320, 1.7976931348623157e308, 1_767_225_600.123456]
    while len(out) < n:
        value = struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))[0]
        if value == value and abs(value) != float("inf"):
            out.append(value)
    return out


def _rows(texts: list[str]) -> list[tuple[object, ...]]:
    doubles = _doubles(len(texts))
    return [(i, text, doubles[i], BLOBS[i % len(BLOBS)], (-1) ** i * 2 ** (i % 63) if i % 7
             else None) for i, text in enumerate(texts)]


def _round_trip(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, s TEXT, f REAL, b BLOB, n INTEGER)")
    db.execute(*ROWS.statement(rows))
    return db.execute("SELECT i, s, f, b, n FROM t ORDER BY i").fetchall()


def test_every_value_comes_back_as_written() -> None:
    rows = _rows([t for t in TEXTS if "\x00" not in t] * 300)
    back = _round_trip(rows)
    assert back == rows
    assert all(type(r[1]) is str and type(r[2]) is float and type(r[3]) is bytes for r in back)


def test_text_with_a_nul_is_kept_whole() -> None:
    rows = _rows(TEXTS * 10)
    assert _round_trip(rows) == rows
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE k (k TEXT PRIMARY KEY) WITHOUT ROWID")
    keys = ["a\x00b", "a\x00c", "a"]  # one key each, though JSON would read all three as "a"
    db.execute(*Bulk("INSERT INTO k (k) SELECT {} FROM json_each(?1) AS j", "t", "").statement(
        [(k,) for k in keys]))
    assert sorted(r[0] for r in db.execute("SELECT k FROM k")) == sorted(keys)
    assert db.execute("SELECT count(*) FROM k WHERE k = ?", ("a\x00c",)).fetchone() == (1,)


def test_deletes_take_their_keys_in_bulk() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE m (s TEXT, p TEXT, PRIMARY KEY (s, p)) WITHOUT ROWID")
    db.executemany("INSERT INTO m VALUES (?, ?)", [("a", "1"), ("a", "2"), ("b", "1")])
    gone = Bulk("DELETE FROM m WHERE (s, p) IN (SELECT {} FROM json_each(?1) AS j)", "tt", "")
    db.execute(*gone.statement([("a", "1"), ("b", "1"), ("c", "9")]))
    assert db.execute("SELECT s, p FROM m").fetchall() == [("a", "2")]
    assert gone.of([]) is None
    with pytest.raises(ValueError, match="one b"):
        Bulk("{}", "bb", "")


@pytest.mark.usefixtures("writer")
def test_ids_with_a_nul_are_claimed_and_logged_exactly_through_a_landing(
        tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    ids = ["m\x00a", "m\x00b", "m"]
    tx = store.transaction()
    assert tx.claim(ids, 1) == set()
    tx.append([(i + 1, f"p\x00{i}", 1.5, 2.5, b"\x00{}", 0) for i in range(3)])
    tx.put_state(3, {"p\x000": b"\x00one"}, {"u:\x00": "p\x000"}, [])
    assert tx.commit_later().result(10) is None
    store.settle()
    logged = store._conn.execute("SELECT * FROM events ORDER BY seq").fetchall()
    assert logged == [(i + 1, f"p\x00{i}", 1.5, 2.5, b"\x00{}", 0) for i in range(3)]
    assert store.load_profile("p\x000") == b"\x00one" and store.resolve("u:\x00") == "p\x000"
    with store.transaction() as tx:
        assert tx.claim([*ids, "m\x00c"], 4) == {0, 1, 2}
    store.close()


@pytest.mark.usefixtures("writer")
def test_accounts_merge_over_a_batch_still_landing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    tx = store.transaction()
    tx.put_accounts([AccountUpdate("acme", {"plan": "free", "seats": 3}, 20.0, "u:1")])
    tx.commit_later()
    tx = store.transaction()  # reads what the batch before holds, once it is durable
    tx.put_accounts([AccountUpdate("acme", {"plan": "pro"}, 10.0, "u:2"),
                     AccountUpdate("acme", {"seats": 9}, 30.0, "u:1")])
    tx.commit_later().result(10)
    account = store.account("acme")
    assert account is not None
    assert account.traits == {"plan": "pro", "seats": 9}
    assert (account.first_seen, account.last_seen) == (10.0, 30.0)
    assert [(m.key, m.since) for m in account.members] == [("u:2", 10.0), ("u:1", 20.0)]
    store.close()


def test_a_tuned_process_has_the_commit_thread_write_the_batches() -> None:
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(CPYTHON_SWITCH_INTERVAL_S)
        assert not _sqlite_landing.hands_over()
        tune_threads()
        assert _sqlite_landing.hands_over()
    finally:
        sys.setswitchinterval(before)


def _every_write(store: SQLiteStore, later: bool) -> None:
    """A group commit with a row of every kind, and a second one that deletes some."""
    tx = store.transaction()
    tx.claim(["m1", "m\x002"], 1)
    tx.claim_orders([("o1", 1)])
    tx.append([(1, "p1", 1.5, 2.5, b'{"a":1}', 0), (2, "p\x002", 1.75, 2.5, b"\x00", 1)])
    tx.set_aside(2, "boom", 3.0)
    tx.put_accounts([AccountUpdate("acme", {"plan": "pro"}, 1.0, "u:1")])
    tx.put_effects([OutboxRow("x1", "welcome", "p1", "A", "email", 5.0, b"{}")],
                   [JournalEntry("j1", "welcome", "p1", "A", "entered", 1.0, 0.0, "")])
    changes = [SegmentChange("p1", "vip", True, 1.0), SegmentChange("p1", "new", True, 1.0),
               SegmentChange("p\x002", "new", True, 1.0), SegmentChange("p1", "new", False, 2.0)]
    tx.put_state(2, {"p1": b"one", "p\x002": b"two", "p3": b"three"},
                 {"u:1": "p1", "a:\x00": "p\x002"}, [Merge("p1", "p0", "login", 1.0, 1)],
                 changes, {"p1": 9.0, "p3": 8.0})
    (tx.commit_later().result(10) if later else tx.commit())
    tx = store.transaction()
    tx.put_state(3, {"p3": None}, {}, [], [SegmentChange("p3", "vip", True, 3.0)],
                 {"p1": None})
    (tx.commit_later().result(10) if later else tx.commit())
    store.settle()


def test_both_ways_of_writing_leave_the_same_tables(tmp_path: Path) -> None:
    """Row by row on the engine's thread, or a statement a table on the commit thread."""
    tables = ["events", "claims", "order_ids", "profiles", "identities", "merges",
              "segment_changes", "segment_members", "timers", "outbox", "journal", "set_aside",
              "accounts", "account_members", "meta"]
    before = sys.getswitchinterval()
    dumps = []
    try:
        for interval in (CPYTHON_SWITCH_INTERVAL_S, SWITCH_INTERVAL_S):
            sys.setswitchinterval(interval)
            store = SQLiteStore(tmp_path / f"{interval}.db")
            _every_write(store, later=True)
            dumps.append({t: sorted(store._conn.execute(f"SELECT * FROM {t}").fetchall(),
                                    key=repr) for t in tables})
            store.close()
    finally:
        sys.setswitchinterval(before)
    assert dumps[0] == dumps[1]
    assert dumps[0]["segment_members"] == [("new", "p\x002", 1.0), ("vip", "p1", 1.0)]
    assert dumps[0]["timers"] == [] and len(dumps[0]["segment_changes"]) == 5
    assert sorted(r[0] for r in dumps[0]["profiles"]) == ["p\x002", "p1"]
    assert all(dumps[0][t] for t in tables if t != "timers")
