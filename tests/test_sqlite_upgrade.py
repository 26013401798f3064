"""A database written by schema 1 (per-customer index built at checkpoints) opens under the
current schema with every timeline intact."""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path

from intently.store import SQLiteStore
from intently.store._claims import digest
from intently.store.sqlite import SCHEMA_VERSION

_V1 = """
CREATE TABLE events (seq INTEGER PRIMARY KEY, customer_id TEXT NOT NULL, ts REAL NOT NULL,
                     received_at REAL NOT NULL, payload BLOB NOT NULL);
CREATE TABLE customer_events (customer_id TEXT NOT NULL, seq INTEGER NOT NULL,
                              PRIMARY KEY (customer_id, seq)) WITHOUT ROWID;
CREATE TABLE merges (id INTEGER PRIMARY KEY, into_id TEXT NOT NULL, from_id TEXT NOT NULL,
                     reason TEXT NOT NULL, ts REAL NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
INSERT INTO events VALUES (1, 'ann', 1.0, 1.0, x'7b7d'), (2, 'bob', 2.0, 2.0, x'7b7d'),
                          (3, 'ann', 3.0, 3.0, x'7b7d');
INSERT INTO customer_events VALUES ('ann', 1), ('bob', 2);
INSERT INTO meta VALUES ('checkpoint', 2);
PRAGMA user_version = 1;
"""


def test_schema_1_upgrades_and_keeps_timelines(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(_V1)  # event 3 came after the last checkpoint: not indexed yet
    old.close()
    store = SQLiteStore(path)
    assert [r.seq for r in store.timeline(["ann"])] == [3, 1]
    with store.transaction() as tx:
        tx.claim(["m4"], 4)
        tx.append([(4, "ann", 4.0, 4.0, b"{}", 0)])  # the record did not know its head yet
    assert [r.seq for r in store.timeline(["ann"], heads=[4])] == [4, 3, 1]
    assert [r.seq for r in store.timeline(["bob"])] == [2]
    store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


_V2_OUTBOX = """
CREATE TABLE outbox (id TEXT PRIMARY KEY, scenario TEXT NOT NULL, profile_id TEXT NOT NULL,
    arm TEXT NOT NULL, channel TEXT NOT NULL, due REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '', updated REAL NOT NULL DEFAULT 0, next_at REAL NOT NULL,
    body BLOB NOT NULL, created INTEGER);
INSERT INTO outbox (id, scenario, profile_id, arm, channel, due, status, next_at, body, created)
    VALUES ('m1', 's', 'p', 'A', 'email', 1.0, 'sending', 1.0, x'7b7d', 0),
           ('m2', 's', 'p', 'A', 'email', 2.0, 'pending', 2.0, x'7b7d', 1);
PRAGMA user_version = 2;
"""


def test_schema_2_outbox_upgrades_to_leases(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    old = sqlite3.connect(path)
    old.executescript(_V2_OUTBOX)  # m1 was being sent when schema 2 stopped
    old.close()
    store = SQLiteStore(path)
    assert [m.id for m in store.claim_due(10.0, "d1")] == ["m1", "m2"]
    assert store.claim_due(10.0, "d2") == []
    store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


_V3_JOURNAL = """
CREATE TABLE journal (id TEXT PRIMARY KEY, scenario TEXT NOT NULL, profile_id TEXT NOT NULL,
    arm TEXT NOT NULL, kind TEXT NOT NULL, ts REAL NOT NULL, value REAL NOT NULL,
    ref TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX journal_by_scenario ON journal (scenario, arm, kind);
CREATE INDEX journal_by_profile ON journal (profile_id, ts);
INSERT INTO journal VALUES ('sent:s/p/1', 's', 'p', 'A', 'sent', 2.0, 0.0, 'm1'),
                           ('entered:s/p/1', 's', 'p', 'A', 'entered', 1.0, 0.0, '');
PRAGMA user_version = 3;
"""


def test_schema_3_journal_is_rebuilt_in_arrival_order_and_stays_unique(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    old = sqlite3.connect(path)
    old.executescript(_V3_JOURNAL)
    old.close()
    store = SQLiteStore(path)
    with store.transaction() as tx:  # a replay repeats a row the old schema kept
        tx.put_effects([], [("sent:s/p/1", "s", "p", "A", "sent", 2.0, 0.0, "m1"),
                            ("exited:s/p/1", "s", "p", "A", "exited", 3.0, 0.0, "")])
    assert [j.id for j in store.journal(profile_id="p")] == [
        "exited:s/p/1", "sent:s/p/1", "entered:s/p/1"]
    assert {(c.kind, c.rows) for c in store.journal_counts("s")} == {
        ("entered", 1), ("sent", 1), ("exited", 1)}
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert [r[0] for r in db.execute("SELECT id FROM journal ORDER BY rowid")] == [
        "entered:s/p/1", "sent:s/p/1", "exited:s/p/1"]


_V5_MESSAGE_IDS = """
CREATE TABLE events (seq INTEGER PRIMARY KEY, customer_id TEXT NOT NULL, ts REAL NOT NULL,
                     received_at REAL NOT NULL, payload BLOB NOT NULL,
                     prev INTEGER NOT NULL DEFAULT 0);
CREATE TABLE message_ids (message_id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO events (seq, customer_id, ts, received_at, payload)
    VALUES (1, 'ann', 1.0, 1.0, x'7b7d'), (2, 'bob', 2.0, 2.0, x'7b7d');
INSERT INTO message_ids VALUES ('z-first', 1), ('a-second', 2);
PRAGMA user_version = 5;
"""


def test_schema_5_message_ids_move_to_claims_in_the_order_they_were_claimed(
        tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    old = sqlite3.connect(path)
    old.executescript(_V5_MESSAGE_IDS)
    old.close()
    store = SQLiteStore(path)
    with store.transaction() as tx:
        assert tx.claim(["a-second", "new", "z-first"], 3) == {0, 2}
        tx.append([(4, "cy", 3.0, 3.0, b"{}", 0)])
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    rows = db.execute("SELECT id, hashes, ids FROM claims ORDER BY id").fetchall()
    assert [(number, json.loads(ids)) for number, _, ids in rows] == [
        (1, ["z-first", "a-second"]), (2, ["new"])]
    assert [list(struct.iter_unpack("<qq", packed)) for _, packed, _ in rows] == [
        [(1, digest("z-first")), (2, digest("a-second"))], [(4, digest("new"))]]
    assert not db.execute("SELECT 1 FROM sqlite_schema WHERE name = 'message_ids'").fetchone()


def _since(store: SQLiteStore, received_from: float) -> list[bytes]:
    return [row.payload for page in store.events_since(0.0, received_from=received_from)
            for row in page]


def _log(store: SQLiteStore, seq: int, received: float) -> None:
    with store.transaction() as tx:
        tx.claim([f"m{seq}"], seq)
        tx.append([(seq, "ann", 1.0, received, f"{{\"n\":{seq}}}".encode(), 0)])


def test_a_log_without_marks_is_marked_where_it_ends_when_opened(tmp_path: Path) -> None:
    """A log written before marks (`store._marks`), or after the last one, is read for its
    highest receive time when a writer opens it, and marked where it ends: what it holds is
    skipped by reads from a later time, never by reads from an earlier one."""
    path = tmp_path / "old.db"
    store = SQLiteStore(path)
    _log(store, 1, 1_000.0)
    _log(store, 2, 2_000.0)
    _log(store, 3, 1_500.0)  # a clock set back
    store.close()
    old = sqlite3.connect(path)
    old.execute("DROP TABLE log_marks")  # as a store from before marks
    old.commit()
    old.close()
    store = SQLiteStore(path)
    assert len(_since(store, 1_900.0)) == 3  # received at 2,000: nothing skipped
    assert _since(store, 2_000.5) == []  # all of it received before
    _log(store, 4, 2_010.0)  # ten seconds on: no mark of its own
    store.close()
    store = SQLiteStore(path)  # marked where the log ends, with the highest time
    assert _since(store, 2_005.0) == [b'{"n":4}']
    assert _since(store, 2_010.5) == []
    store.close()
