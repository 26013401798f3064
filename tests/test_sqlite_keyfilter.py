"""The SQLite writer's filter of identity keys (`store._keyfilter`): a key it never saw is not
asked of the table, and no key the store holds is ever missed: loaded by a scan, with the
keys of a batch still landing and of the transaction still open, and every key written after."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from intently.store import SQLiteStore, _sqlite_tx
from intently.store._keyfilter import FEWEST_KEYS, KeyFilter

WAIT_S = 10.0


def _asked(store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The identity keys the store's reads ask the table (or a landing batch) for, from now."""
    asked: list[str] = []
    many = store._many

    def spy(query: str, values: Sequence[str], table: str) -> dict[str, Any]:
        if table == "identities":
            asked.extend(values)
        return many(query, values, table)

    monkeypatch.setattr(store, "_many", spy)
    return asked


def _stored(store: SQLiteStore, keys: dict[str, str]) -> None:
    with store.transaction() as tx:
        tx.put_state(0, {}, keys, [])


def test_every_key_added_is_held_and_few_others_seem_to_be() -> None:
    """Keys one at a time and in bulk (the two ways it probes), through several layers."""
    known = KeyFilter()
    assert known.may_hold(["u:0", "e:x"]) == [True, True]  # not loaded: it cannot tell
    known.load(iter([[f"u:{i}" for i in range(1000)]]), 1000)
    for start in range(1000, 3 * FEWEST_KEYS, 7001):
        known.add([f"u:{i}" for i in range(start, start + 7000)])
        known.add([f"u:{start + 7000}"])
    assert known.layers >= 2
    held = [f"u:{i}" for i in range(3 * FEWEST_KEYS) if i < 1000 or (i - 1000) % 7001 <= 7000]
    assert all(known.may_hold(held))
    assert all(known.may_hold([k]) == [True] for k in held[::997])
    others = [f"e:{i}@example.com" for i in range(20_000)]
    assert sum(known.may_hold(others)) < 0.03 * len(others)  # about 1% with each layer
    assert sum(known.may_hold([k])[0] for k in others[:2000]) < 0.03 * 2000


def test_a_writer_asks_the_table_only_for_keys_it_may_hold(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    _stored(store, {f"a:{i}": f"p{i}" for i in range(3000)})
    store.close()
    store = SQLiteStore(tmp_path / "x.db")
    assert store.resolve("a:7") == "p7" and store.resolve("a:new7") is None
    assert store._keys is not None and not store._keys.loaded  # one key: not worth a scan
    asked = _asked(store, monkeypatch)  # a batch's keys: loaded by a scan
    new = [f"a:new{i}" for i in range(3000)]
    wanted = [f"a:{i}" for i in range(0, 3000, 3)] + new
    assert store.resolve_many(wanted) == {f"a:{i}": f"p{i}" for i in range(0, 3000, 3)}
    assert len(asked) - 1000 < 0.03 * len(new)  # the stored ones, and the filter's mistakes
    assert store.resolve("a:7") == "p7" and store.resolve("a:new7") is None
    _stored(store, {"a:new7": "p7"})  # written after it loaded
    assert store.resolve_many(["a:new7"]) == {"a:new7": "p7"}
    assert store.resolve("a:new7") == "p7"
    store.checkpoint(0, {}, {"a:new8": "p8"}, [])
    store.rename_identities([("a:new8", "a:renamed8")])
    assert store.resolve_many(["a:renamed8", "a:new8"]) == {"a:renamed8": "p8"}
    store.close()


def test_order_ids_are_asked_of_the_table_only_when_it_may_hold_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A purchase's order id is looked up before it counts (the same order sent twice counts
    once): most are new, and the filter answers for those."""
    store = SQLiteStore(tmp_path / "x.db")
    with store.transaction() as tx:
        assert tx.claim_orders([(f"o{i}", 1 + i) for i in range(100)]) == set()
    store.close()
    store = SQLiteStore(tmp_path / "x.db")
    asked: list[str] = []
    owners = _sqlite_tx._owners

    def spy(db: Any, table: str, column: str, ids: Sequence[str]) -> dict[str, int]:
        asked.extend(ids)
        return owners(db, table, column, ids)

    monkeypatch.setattr(_sqlite_tx, "_owners", spy)
    for r in range(2):  # loaded by a scan, then with the orders claimed since
        with store.transaction() as tx:
            again = [(f"o{i}", 1000 + i) for i in range(0, 100, 2)]
            new = [(f"n{i}:{r}", 2000 + i) for i in range(1000)]
            assert tx.claim_orders(again + new) == {seq for _, seq in again}
        assert len(asked) - len(again) < 0.03 * len(new)
        asked.clear()
    with store.transaction() as tx:  # and the new ones of the first round
        assert tx.claim_orders([("n0:0", 5000)]) == {5000}
    store.close()


@pytest.mark.usefixtures("writer")  # both ways a batch lands
def test_it_loads_with_the_keys_of_a_landing_batch_and_of_the_open_transaction(
        tmp_path: Path, held: threading.Event) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    _stored(store, {"u:1": "p1"})
    tx = store.transaction()
    tx.claim(["m1"], tx.next_seq())
    tx.append([(tx.next_seq(), "p2", 1.0, 1.0, b"{}", 0)])
    tx.put_state(1, {}, {"u:2": "p2"}, [])
    durable = tx.commit_later()  # not durable until `held` is set
    tx = store.transaction()
    tx.put_state(2, {}, {"u:3": "p3"}, [])
    assert store.resolve_many(["u:1", "u:2", "u:3"]) == {"u:1": "p1", "u:2": "p2"}  # loads
    assert not durable.done()
    held.set()
    tx.commit()  # (once the landing batch is durable)
    assert durable.result(WAIT_S) is None
    assert store.resolve_many(["u:1", "u:2", "u:3"]) == {"u:1": "p1", "u:2": "p2", "u:3": "p3"}
    tx = store.transaction()
    tx.put_state(3, {}, {"u:4": "p4"}, [])
    tx.rollback()  # staged, then dropped: at worst a key asked for in vain
    assert store.resolve("u:4") is None
    store.close()


def test_a_reader_asks_the_table_for_every_key(tmp_path: Path) -> None:
    """Another process may write while it reads: it keeps no filter."""
    writer = SQLiteStore(tmp_path / "x.db")
    _stored(writer, {"u:1": "p1"})
    reader = SQLiteStore(tmp_path / "x.db", readonly=True)
    assert reader.resolve_many(["u:1", "u:2"]) == {"u:1": "p1"}
    _stored(writer, {"u:2": "p2"})
    assert reader.resolve_many(["u:2"]) == {"u:2": "p2"}
    assert reader.resolve("u:2") == "p2"
    reader.close()
    writer.close()


def test_a_layer_sets_the_same_bits_for_many_keys_at_once_as_a_few_at_a_time() -> None:
    """The two ways a layer takes keys in bulk: a bool a bit for many keys at once (a load),
    OR-ing bytes for fewer (a batch's)."""
    import numpy as np

    from intently.store._keyfilter import BULK_RATIO, PROBES, _hashes, _Layer

    keys = [f"u:{i}" for i in range(5000)]
    at_once, by_batches = _Layer(5000), _Layer(5000)
    assert len(keys) * PROBES * BULK_RATIO > at_once.mask  # the bool path
    at_once.add(_hashes(keys))
    for start in range(0, len(keys), 50):
        part = keys[start : start + 50]
        assert len(part) * PROBES * BULK_RATIO <= by_batches.mask  # the byte path
        by_batches.add(_hashes(part))
    assert at_once.bytes == by_batches.bytes and np.count_nonzero(at_once.array)
    loaded = KeyFilter()
    loaded.load([keys[:1000], keys[1000:]], len(keys))
    assert all(loaded.may_hold(keys)) and loaded.layers == 1
