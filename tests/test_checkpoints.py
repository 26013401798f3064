"""Incremental checkpoints: each group commit writes the records that changed longest ago, with
their identities, merges, segment changes and timers; a recovery replays from the oldest change
not written and skips, record by record, the events a written record has already."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import outcome, sqlite_engine, unnumbered
from intently import Engine
from intently.profiles import decode_profile
from intently.scenarios import ready_made
from intently.store._sqlite_tx import Transaction
from intently.testing import Shop

DAY = 86400.0


def _engine(path: Path, **settings: Any) -> Engine:
    engine = sqlite_engine(path, builtin_segments=True, batch_size=50, **settings)
    for s in ready_made().values():
        engine.put_scenario(s)
    return engine


def test_a_crash_between_incremental_checkpoints_recovers_the_same_state(tmp_path: Path) -> None:
    events = list(Shop(users=300, days=8, seed=21).events())
    half = len(events) // 2

    reference = _engine(tmp_path / "reference.db")  # everything fits, one checkpoint at the end
    reference.process_many(events)
    want = outcome(reference)
    reference.close()

    # a small cache and a few records per commit: many records are written after the
    # position a recovery replays from, and some records wait long
    small = {"cache_profiles": 40, "checkpoint_records": 7, "checkpoint_events": 120}
    crashed = _engine(tmp_path / "crashed.db", **small)
    crashed.process_many(events[:half])
    mark = crashed.store.checkpoint_seq()
    assert 0 < mark < crashed.last_seq
    ahead = [pid for pid in crashed.store.profile_ids(limit=100_000)
             if decode_profile(crashed.store.load_profile(pid) or b"").last_seq > mark]
    assert ahead, "no record was written past the replay position: nothing to skip"
    assert crashed.state.unwritten() > 0
    crashed.store.close()  # a crash: no final checkpoint

    recovered = _engine(tmp_path / "crashed.db", **small)
    assert recovered.recovered > 0
    recovered.process_many(events[half:])
    got = outcome(recovered)
    recovered.close()

    records, messages, journal, sizes = got
    assert len(want[0]) > 250 and len(want[1]) > 20 and sum(want[3].values()) > 0
    assert records.keys() == want[0].keys()
    # (but for the number of each record's newest journal row: a row a replay repeats, kept
    # once by its id, leaves a number unused; `test_sqlite_journal` follows the chains)
    assert [pid for pid in records
            if unnumbered(records[pid]) != unnumbered(want[0][pid])] == []
    assert (messages, journal, sizes) == want[1:]


def test_each_commit_writes_a_bounded_number_of_records(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[int] = []
    put_state = Transaction.put_state

    def counting(tx: Any, seq: int, profiles: dict[str, bytes | None], *rest: Any) -> None:
        written.append(len(profiles))
        put_state(tx, seq, profiles, *rest)

    monkeypatch.setattr(Transaction, "put_state", counting)
    engine = _engine(tmp_path / "bounded.db", cache_profiles=60, checkpoint_records=10,
                     checkpoint_events=100)
    engine.process_many(list(Shop(users=200, days=5, seed=3).events()))
    # up to twice the setting when catching up (and the records merged with one)
    assert written and max(written) <= 2 * 10 + 4
    assert sum(written) > 200
    assert engine.state.unwritten() <= engine.state.capacity
    engine.close()


def test_incremental_checkpoints_write_each_identity_with_its_record(tmp_path: Path) -> None:
    """A record's identities are written with it, never before it (a key pointing at a record
    the store does not hold yet) and never after (a written record whose keys do not find it),
    however many commits its record waits; a key that moved follows its new record."""
    events = list(Shop(users=300, days=8, seed=21).events())
    engine = _engine(tmp_path / "identities.db", cache_profiles=40, checkpoint_records=7,
                     checkpoint_events=120)
    db = engine.store._db  # type: ignore[attr-defined]
    checked = waited = 0
    for start in range(0, len(events), 50):
        engine.process_many(events[start:start + 50])
        state = engine.state
        unwritten = set(state.dirty) | set(state.dropped)
        stored = dict(db.execute("SELECT key, profile_id FROM identities").fetchall())
        records = {pid: decode_profile(body) for pid, body in
                   db.execute("SELECT id, body FROM profiles").fetchall()}
        dangling = {k: pid for k, pid in stored.items() if pid not in records}
        assert dangling == {}
        for pid, record in records.items():
            if pid in unwritten:
                waited += 1
                continue
            assert {k: stored.get(k) for k in record.identities} == dict.fromkeys(
                record.identities, pid)
            checked += 1
    assert checked > 1000 and waited > 100
    reference = _engine(tmp_path / "reference.db")
    reference.process_many(events)
    engine.checkpoint()
    reference.checkpoint()
    want = reference.store._db.execute(  # type: ignore[attr-defined]
        "SELECT key, profile_id FROM identities ORDER BY key").fetchall()
    assert db.execute("SELECT key, profile_id FROM identities ORDER BY key").fetchall() == want
    engine.close()
    reference.close()


def test_a_recovery_replays_from_just_before_the_oldest_unwritten_change(tmp_path: Path) -> None:
    """`replay_from` reads the oldest unwritten record without a scan (records become dirty in
    the order they change, but for one made again after a merge dropped it, which keeps the
    older position): after every commit it equals the scan's answer."""
    events = list(Shop(users=300, days=8, seed=21).events())
    engine = _engine(tmp_path / "replay.db", cache_profiles=40, checkpoint_records=7,
                     checkpoint_events=120)
    state = engine.state

    def scanned(last: int) -> int:
        since = min([*state.dirty.values(), *state.dropped.values()], default=last + 1)
        return min(since - 1, last)

    for start in range(0, len(events), 50):
        engine.process_many(events[start:start + 50])
        assert state.replay_from(engine.last_seq) == scanned(engine.last_seq)
        if start == 1000:  # the oldest dropped by a merge and made again, by hand
            oldest = next(iter(state.dirty))
            since = state.dirty[oldest]
            state.position = engine.last_seq + 1
            state.drop(oldest)
            state.position += 10
            state.create(oldest)
            assert list(state.dirty)[-1] == oldest and state.dirty[oldest] == since
            assert state.replay_from(engine.last_seq) == since - 1
    assert state.replay_from(engine.last_seq) == scanned(engine.last_seq)
    engine.close()
