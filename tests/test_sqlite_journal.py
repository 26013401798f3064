"""SQLite's scenario journal since schema 7: each record's rows chained from its newest
(`journal.prev`, `Profile.journal_head`) instead of an index of random keys by record, a
replay's rows recognised by id, and the rows of older databases still found by record."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conftest import sqlite_engine
from intently.scenarios import ONCE_BY_CONSTRUCTION, ready_made
from intently.store import JournalChain, JournalEntry, SQLiteStore
from intently.store.sqlite import SCHEMA_VERSION
from intently.testing import Shop


def _row(rid: str, pid: str, ts: float) -> JournalEntry:
    return JournalEntry(rid, "s", pid, "A", "entered", ts, 0.0, "")


def _chains(path: Path) -> list[tuple[int, str, int, int]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT rowid, id, prev, seq FROM journal ORDER BY rowid").fetchall()
    finally:
        db.close()


def test_rows_are_numbered_in_order_and_linked_to_their_records_row_before(
        tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    store = SQLiteStore(path)
    heads: dict[str, int] = {}
    with store.transaction() as tx:  # committed in place
        heads.update(tx.put_effects([], [], JournalChain(
            [_row("a1", "a", 1.0), _row("b1", "b", 2.0)], {}, 1)))
    tx = store.transaction()  # committed by the commit thread, while the next one is built
    tx.claim(["m1"], 1)
    tx.append([(1, "a", 3.0, 3.0, b"{}", 0)])
    heads.update(tx.put_effects([], [], JournalChain([_row("a2", "a", 3.0)], dict(heads), 1)))
    landed = tx.commit_later()
    with store.transaction() as tx:
        heads.update(tx.put_effects([], [], JournalChain(
            [_row("a3", "a", 4.0), _row("b2", "b", 5.0)], dict(heads), 2)))
    landed.result(timeout=10)
    store.close()
    store = SQLiteStore(path)  # numbering goes on after the rows kept
    with store.transaction() as tx:
        heads.update(tx.put_effects([], [], JournalChain([_row("a4", "a", 6.0)], dict(heads), 3)))
    assert heads == {"a": 6, "b": 5}
    assert [j.id for j in store.journal(profile_id="a", heads=[heads["a"]])] == [
        "a4", "a3", "a2", "a1"]
    store.close()
    assert _chains(path) == [(1, "a1", 0, 1), (2, "b1", 0, 1), (3, "a2", 1, 1),
                             (4, "a3", 3, 2), (5, "b2", 2, 2), (6, "a4", 4, 3)]


def test_a_replay_recognises_the_rows_logged_after_its_start(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    store = SQLiteStore(path)
    heads: dict[str, int] = {}
    for position, rows in ((3, [_row("a1", "a", 1.0)]), (7, [_row("a2", "a", 2.0)]),
                           (9, [_row("a3", "a", 3.0)])):
        with store.transaction() as tx:
            heads.update(tx.put_effects([], [], JournalChain(rows, dict(heads), position)))
    # the record as of its last write knew a1 only; the log replays from position 4 on
    with store.transaction() as tx:
        replayed = tx.put_effects([], [], JournalChain(
            [_row("a2", "a", 2.0), _row("a3", "a", 3.0), _row("a4", "a", 4.0)], {"a": 1}, 10,
            replayed_after=3))
    assert replayed == {"a": 4}
    store.close()
    assert _chains(path) == [(1, "a1", 0, 3), (2, "a2", 1, 7), (3, "a3", 2, 9),
                             (4, "a4", 3, 10)]


def test_rows_without_a_chain_stay_unique_by_record_and_id(tmp_path: Path) -> None:
    """Kinds that may come again with the same id (a suppression at a step visited again, an
    email opened twice) go outside the chains, kept once by record and id."""
    store = SQLiteStore(tmp_path / "j.db")
    suppressed = JournalEntry("suppressed:s/a/1/2/0", "s", "a", "A", "suppressed", 2.0, 0.0,
                              "no email consent")
    heads: dict[str, int] = {}
    for at in (1, 5):
        with store.transaction() as tx:
            heads.update(tx.put_effects([], [suppressed], JournalChain(
                [_row(f"entered:s/a/{at}", "a", float(at))], dict(heads), at)))
    assert [j.id for j in store.journal(profile_id="a", heads=[heads["a"]])] == [
        "entered:s/a/5", "suppressed:s/a/1/2/0", "entered:s/a/1"]
    assert len(store.journal()) == 3
    store.close()


_V6_JOURNAL = """
CREATE TABLE journal (id TEXT NOT NULL, scenario TEXT NOT NULL, profile_id TEXT NOT NULL,
                      arm TEXT NOT NULL, kind TEXT NOT NULL, ts REAL NOT NULL,
                      value REAL NOT NULL, ref TEXT NOT NULL);
CREATE INDEX journal_by_scenario ON journal (scenario, arm, kind);
CREATE UNIQUE INDEX journal_by_profile ON journal (profile_id, id);
INSERT INTO journal VALUES ('entered:s/p/1', 's', 'p', 'A', 'entered', 1.0, 0.0, ''),
                           ('entered:s/q/1', 's', 'q', 'A', 'entered', 1.5, 0.0, '');
PRAGMA user_version = 6;
"""


def test_schema_6_rows_stay_found_by_record_and_a_replay_keeps_them_once(
        tmp_path: Path) -> None:
    path = tmp_path / "v6.db"
    old = sqlite3.connect(path)
    old.executescript(_V6_JOURNAL)
    old.close()
    store = SQLiteStore(path)
    with store.transaction() as tx:  # a replay after the upgrade repeats a row kept before it
        heads = tx.put_effects([], [], JournalChain(
            [_row("entered:s/p/1", "p", 1.0),
             JournalEntry("sent:s/p/1", "s", "p", "A", "sent", 2.0, 0.0, "m1")],
            {}, 5, replayed_after=0))
    assert heads == {"p": 3}
    assert [j.id for j in store.journal(profile_id="p", heads=[3])] == [
        "sent:s/p/1", "entered:s/p/1"]
    assert [j.id for j in store.journal(profile_id="q", heads=[0])] == ["entered:s/q/1"]
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    indexes = {r[0] for r in db.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'journal'")}
    assert indexes == {"journal_by_scenario", "journal_unchained"}
    assert db.execute("SELECT rowid, prev, seq FROM journal ORDER BY rowid").fetchall() == [
        (1, 0, 0), (2, 0, 0), (3, 1, 5)]  # linked to the row kept before
    db.close()


def test_every_records_chain_holds_its_rows_through_eviction_and_a_crash(
        tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    events = list(Shop(users=150, days=6, seed=5).events())
    small = {"cache_profiles": 30, "checkpoint_records": 7, "checkpoint_events": 120}

    def engine():  # type: ignore[no-untyped-def]
        e = sqlite_engine(path, builtin_segments=True, batch_size=50, **small)
        for s in ready_made().values():
            e.put_scenario(s)
        return e

    crashed = engine()
    crashed.process_many(events[: len(events) // 2])
    assert crashed.state.unwritten() > 0
    crashed.store.close()  # a crash: what was not written is replayed
    recovered = engine()
    assert recovered.recovered > 0
    recovered.process_many(events[len(events) // 2:])
    recovered.checkpoint()
    reads = recovered.read_models
    everything = 1 << 40
    longest = 0
    for pid in recovered.store.profile_ids(limit=100_000):
        head = int(recovered.profile(pid).journal_head)
        chained = reads.journal(pid, limit=everything, heads=[head])
        assert chained == reads.journal(pid, limit=everything), pid  # the chain, as a scan
        longest = max(longest, len(chained))
    assert longest > 3
    rows = reads.journal(limit=everything)
    assert len({(j.profile_id, j.id) for j in rows}) == len(rows) > 100  # none twice
    recovered.close()
    db = sqlite3.connect(path)
    kinds = dict(db.execute("SELECT seq > 0, group_concat(DISTINCT kind) FROM journal "
                            "GROUP BY seq > 0").fetchall())
    db.close()
    assert set(kinds[1].split(",")) == ONCE_BY_CONSTRUCTION  # chained
    assert set(kinds[0].split(",")).isdisjoint(ONCE_BY_CONSTRUCTION)  # kept once by id
