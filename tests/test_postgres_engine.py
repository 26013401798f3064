"""The whole engine on the PostgreSQL backend: the same records, messages, journal and segments
as on SQLite, after a crash between incremental checkpoints too; one writer per schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import HISTORY, POSTGRES, T0, outcome, postgres_schema, track, unnumbered
from intently import Engine, ManualClock, Settings, StoreError
from intently.scenarios import ready_made
from intently.store import open_store
from intently.testing import Shop

DAY = 86400.0


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


def _engine(url: str, **settings: Any) -> Engine:
    settings.setdefault("future_tolerance_seconds", HISTORY.future_tolerance_seconds)
    engine = Engine(url, settings=Settings(db=url, builtin_segments=True, batch_size=50,
                                           **settings),
                    clock=ManualClock(T0))
    for s in ready_made().values():
        engine.put_scenario(s)
    return engine


def test_the_engine_on_postgresql_ends_as_on_sqlite_after_a_crash(tmp_path: Path,
                                                                    pg_url: str) -> None:
    events = list(Shop(users=200, days=8, seed=4).events())
    half = len(events) // 2
    reference = _engine(f"sqlite:///{tmp_path}/reference.db")
    reference.process_many(events)
    want = outcome(reference)
    reference.close()

    small = {"cache_profiles": 40, "checkpoint_records": 7, "checkpoint_events": 120}
    crashed = _engine(pg_url, **small)
    crashed.process_many(events[:half])
    assert 0 < crashed.store.checkpoint_seq() < crashed.last_seq
    crashed.store.close()  # a crash: no final checkpoint

    recovered = _engine(pg_url, **small)
    assert recovered.recovered > 0
    recovered.process_many(events[half:])
    got = outcome(recovered)
    recovered.close()

    records, messages, journal, sizes = got
    assert len(want[0]) > 150 and len(want[1]) > 10 and sum(want[3].values()) > 0
    assert records.keys() == want[0].keys()
    assert [pid for pid in records
            if unnumbered(records[pid]) != unnumbered(want[0][pid])] == []
    assert (messages, journal, sizes) == want[1:]


def test_timelines_duplicates_and_merges_on_postgresql(pg_url: str) -> None:
    engine = Engine(pg_url, settings=Settings(db=pg_url, **{
        "future_tolerance_seconds": HISTORY.future_tolerance_seconds}), clock=ManualClock(T0))
    engine.process(track("Product Viewed", anon="a-1", at=T0, mid="m1", product_id="p1"))
    engine.process(track("Product Viewed", anon="a-1", at=T0 + 1, mid="m1"))  # a resend
    engine.process({"type": "identify", "anonymousId": "a-1", "userId": "u-1",
                    "timestamp": T0 + 2, "messageId": "m2", "traits": {"email": "ann@x.com"}})
    engine.process(track("Order Completed", user="u-1", at=T0 + 3, mid="m3", order_id="o-1",
                         revenue=12.5))
    engine.checkpoint()
    record = engine.profile("u-1")
    assert engine.profile("a-1").id == record.id
    assert [e.event for e in engine.timeline(record)] == [
        "Order Completed", None, "Product Viewed"]
    assert engine.store.count_events() == 3
    engine.close()

    reopened = Engine(pg_url, readonly=True, settings=Settings(db=pg_url))
    assert reopened.profile("ann@x.com").id == record.id
    reopened.close()


def test_one_writing_process_per_schema(pg_url: str) -> None:
    first = open_store(pg_url)
    with pytest.raises(StoreError, match="another Intently process is writing"):
        open_store(pg_url)
    reader = open_store(pg_url, readonly=True)
    assert reader.count_events() == 0
    reader.close()
    first.close()
    open_store(pg_url).close()  # the lock goes with the connection


def test_an_unreachable_database_is_named_without_its_password() -> None:
    with pytest.raises(StoreError, match=r"cannot reach PostgreSQL at 127\.0\.0\.1:1/") as caught:
        open_store("postgresql://intently:s3cret@127.0.0.1:1/nowhere?connect_timeout=2")
    assert "s3cret" not in str(caught.value)


def test_a_database_not_in_utf8_is_refused_with_how_to_make_one() -> None:
    """In a SQL_ASCII database (`initdb` without a locale, as in a bare container) text comes
    back as bytes: refused at open, not misread later."""
    import psycopg

    conninfo = POSTGRES.partition("?")[0]
    name = f"t_ascii_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(conninfo, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0 "  # type: ignore[arg-type]
                   "LC_COLLATE 'C' LC_CTYPE 'C'")
    try:
        url = f"{conninfo.rsplit('/', 1)[0]}/{name}"
        with pytest.raises(StoreError, match="encoded SQL_ASCII; Intently needs UTF8"):
            open_store(url)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as db:
            db.execute(f"DROP DATABASE {name}")  # type: ignore[arg-type]


def _log(store: Any, seq: int, received: float) -> None:
    with store.transaction() as tx:
        tx.claim([f"m{seq}"], seq)
        tx.append([(seq, "ann", 1.0, received, f"{{\"n\":{seq}}}".encode(), 0)])


def _since(store: Any, received_from: float) -> list[bytes]:
    return [row.payload for page in store.events_since(0.0, received_from=received_from)
            for row in page]


def test_the_log_is_marked_from_what_the_table_holds_whoever_wrote_it(pg_url: str) -> None:
    """A partition changes hands: each mark (`store._marks`) bounds the receive times of every
    event before it, those another writer logged included; and a log without marks (written
    before them, or after the last one) is marked where it ends when a writer opens it."""
    from intently.store.postgres import PostgresStore

    one, other = PostgresStore(pg_url, writer_lock=False), PostgresStore(pg_url,
                                                                         writer_lock=False)
    _log(one, 1, 5_000.0)
    _log(other, 2, 1_000.0)  # its clock behind; it has not seen the first mark
    assert _since(other, 3_000.0) == [b'{"n":1}', b'{"n":2}']  # both received by 5,000
    assert _since(one, 5_000.5) == []
    one.close()
    other.close()
    db = PostgresStore(pg_url, writer_lock=False)
    db._run("DELETE FROM log_marks")  # as a log from before marks
    db.close()
    store = PostgresStore(pg_url)
    assert len(_since(store, 4_000.0)) == 2 and _since(store, 5_000.5) == []
    store.close()
