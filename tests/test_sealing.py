"""Personal data sealed at rest: every byte the store keeps searched for the person's values,
on SQLite (file and WAL) and on PostgreSQL (every column of every table), while the engine
still finds, exports, messages and erases them; master and data key rotation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conftest import T0, postgres_schema, sqlite_engine
from intently import Engine, ManualClock, Settings
from intently._views import export_view
from intently.scenarios import ready_made
from intently.store import SealingError, new_master_key, open_store, rotate_keys
from intently.store._keyring import META
from intently.store.postgres import split_url
from intently.testing import Shop
from test_privacy_erasure import ANN, WELCOME, _found, _stored_bytes, ann_events

SEALED = [ANN["email"], ANN["email"].lower(), "+46701234567", ANN["phone"], ANN["name"],
          ANN["street"], "203.0.113.77", "Hello Ann"]
"""What sealing hides: email, phone, name, address, IP, and the message rendered for her.
(User and anonymous ids are the client's own pseudonyms: they stay readable.)"""
K1, K2 = new_master_key(), new_master_key()


def _engine(path: Path, *keys: str, clock: ManualClock | None = None) -> Engine:
    engine = sqlite_engine(path, clock or ManualClock(T0), builtin_segments=True,
                           batch_size=100, checkpoint_events=400, encryption_keys=keys)
    for s in [*ready_made().values(), WELCOME]:
        engine.put_scenario(s)
    return engine


def _shop() -> list[dict[str, Any]]:
    return list(Shop(users=60, days=4, seed=5).events())


def test_a_sealed_store_keeps_no_personal_value_readable(tmp_path: Path) -> None:
    db = tmp_path / "sealed.db"
    engine = _engine(db, K1)
    shop = _shop()
    engine.process_many(shop[: len(shop) // 2])
    engine.process_many(ann_events(T0 - 86400))
    engine.process_many(shop[len(shop) // 2:])
    engine.tick(T0 + 3600)
    engine.settle()
    engine.close()
    assert _found(_stored_bytes(db), SEALED) == []
    assert _found(_stored_bytes(db), [ANN["user"]])  # the search does find what is there

    again = _engine(db, K1)
    ann = again.find(ANN["email"].upper())  # a look-up by email goes through its digest
    assert ann is not None and ann.traits["email"] == ANN["email"] and ann.orders == 1
    assert again.find(ANN["phone"]) is not None  # as typed: the look-up normalises it
    (welcome,) = [m for m in again.read_models.outbox(profile_id=ann.id)
                  if m.scenario == "welcome"]
    assert b"Hello Ann" in welcome.body
    bundle = export_view(again, ann)
    assert len(bundle["events"]) == len(ann_events(0))
    assert "203.0.113.77" in json.dumps(bundle["events"])
    report = again.privacy.erase(ANN["user"], actor="dpo")
    assert report.found and report.erased.events == len(ann_events(0))
    assert again.find(ANN["email"]) is None
    again.close()
    assert _found(_stored_bytes(db), [ANN["user"], *SEALED]) == []


def test_a_sealed_store_opens_with_its_key_only(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    _engine(db, K1).close()
    with pytest.raises(SealingError, match="set encryption_keys"):
        sqlite_engine(db)
    with pytest.raises(SealingError, match="none of encryption_keys"):
        sqlite_engine(db, encryption_keys=(K2,))
    with pytest.raises(SealingError, match="32 bytes"):
        sqlite_engine(db, encryption_keys=("short",))


def test_a_new_master_key_rewraps_the_data_keys_when_the_store_opens(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    engine = _engine(db, K1)
    engine.process_many(ann_events(T0))
    engine.close()
    before = open_store(db, readonly=True)
    data_keys = json.loads(before.get_meta(META) or "")["keys"]
    before.close()
    _engine(db, K2, K1).close()  # the new key first, the old one after it
    engine = _engine(db, K2)  # the old key may go now
    assert engine.find(ANN["email"]) is not None
    engine.close()
    with pytest.raises(SealingError):
        sqlite_engine(db, encryption_keys=(K1,))
    after = open_store(db, readonly=True)
    envelope = json.loads(after.get_meta(META) or "")
    assert envelope["keys"].keys() == data_keys.keys()  # the same data keys, wrapped anew
    assert envelope["keys"] != data_keys
    after.close()


def test_a_data_rotation_seals_a_plain_store_then_replaces_its_data_key(tmp_path: Path
                                                                        ) -> None:
    db = tmp_path / "p.db"
    engine = _engine(db)
    engine.process_many(ann_events(T0 - 86400))
    engine.tick(T0 + 3600)
    with engine.store.transaction() as tx:  # as the pipeline sets aside an event it fails on
        tx.set_aside(engine.last_seq, f"ValueError: bad phone {ANN['phone']!r}", T0)
    engine.close()
    assert _found(_stored_bytes(db), SEALED)
    with pytest.raises(SealingError, match="rotate-key --data"):
        _engine(db, K1)

    store = open_store(db)
    first = rotate_keys(store, [K1], actor="dpo", now=T0, data=True)
    store.close()
    assert (first.records, first.events) == (1, len(ann_events(0)))
    assert first.messages >= 1 and first.identities == 2  # her email and phone
    assert first.set_aside == 1  # the event the engine could not apply, with its error
    assert _found(_stored_bytes(db), SEALED) == []
    engine = _engine(db, K1)
    assert engine.find(ANN["email"]).traits["phone"] == ANN["phone"]  # type: ignore[union-attr]
    engine.close()

    store = open_store(db)
    second = rotate_keys(store, [K1], actor="dpo", now=T0 + 1, data=True)
    assert second.data_key == 2 and second.identities == 0  # digests stay: the index key stays
    assert list(json.loads(store.get_meta(META) or "")["keys"]) == ["2"]
    assert second.set_aside == 1
    assert [r.verb for r in store.privacy_log()] == ["rotate-key", "rotate-key"]
    store.close()
    engine = _engine(db, K1)
    assert engine.find(ANN["email"]) is not None
    (aside,) = engine.set_aside_events()  # opened with the new data key
    assert aside.error == f"ValueError: bad phone {ANN['phone']!r}"
    engine.close()


def _pg_mentions(url: str, values: list[str]) -> list[str]:
    """`table.column: value` for each value found in any column of any table of the store's
    schema (as text, or inside a binary column)."""
    conninfo, schema = split_url(url)
    found = []
    with psycopg.connect(conninfo, autocommit=True) as db:
        columns = db.execute("SELECT table_name, column_name, data_type FROM "
                             "information_schema.columns WHERE table_schema = %s",
                             (schema,)).fetchall()
        for table, column, kind in columns:
            test = (f"position(%(v)s::bytea in {column}) > 0" if kind == "bytea"
                    else f"position(%(v)s in {column}::text) > 0")
            for value in values:
                row = db.execute(f"SELECT count(*) FROM {schema}.{table} WHERE {test}",
                                 {"v": value.encode() if kind == "bytea" else value}
                                 ).fetchone()
                if row and row[0]:
                    found.append(f"{table}.{column}: {value}")
    return found


def test_a_sealed_postgresql_store_keeps_no_personal_value_readable() -> None:
    with postgres_schema() as url:
        settings = Settings(db=url, encryption_keys=(K1,), batch_size=100)
        engine = Engine(settings=settings, clock=ManualClock(T0))
        engine.put_scenario(WELCOME)
        engine.process_many(ann_events(T0 - 86400))
        engine.tick(T0 + 3600)
        engine.checkpoint()
        assert engine.find(ANN["email"]) is not None
        engine.close()
        assert _pg_mentions(url, SEALED) == []
        assert _pg_mentions(url, [ANN["user"]])  # the search finds what is readable
