"""A SQLite group commit whose `COMMIT` finishes on the commit thread while the engine runs the
next batch (`store._sqlite_landing`): acknowledged only once durable, read as committed
meanwhile, and a failed one keeps nothing and sends the engine back to its last checkpoint.

The commit thread is held on an event where a test needs a batch to stay landing, and a commit
is failed for real: a deferred foreign key that SQLite checks at `COMMIT`."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

from conftest import T0, fail_next_commit, sqlite_engine, track
from intently import StoreError
from intently.engine import EngineWorker, IngestResult
from intently.events import Event, decode_batch
from intently.store import LogTransaction, SQLiteStore, Store
from intently.store._sqlite_landing import Landing

WAIT_S = 10.0
pytestmark = pytest.mark.usefixtures("writer")  # both ways a batch lands


def _events(*calls: dict[str, object]) -> list[Event]:
    return decode_batch(list(calls), 0)[0]


def _log_one(tx: LogTransaction, seq: int) -> set[int]:
    """Claim message id `m<seq>` and log one event of record `p<seq>` at `seq`: the claim's
    duplicates (an empty set when the id was free)."""
    dupes = tx.claim([f"m{seq}"], seq)
    tx.append([(seq, f"p{seq}", float(seq), float(seq), b"{}", 0)])
    return dupes


def _settle_elsewhere(store: Store) -> None:
    """Another thread settles the store's landing batch (it only waits for it)."""
    other = threading.Thread(target=store.settle)
    other.start()
    other.join(WAIT_S)
    assert not other.is_alive()


def test_reads_find_a_landing_batch_and_the_write_connection_waits(
        tmp_path: Path, held: threading.Event) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    tx = store.transaction()
    _log_one(tx, 1)
    tx.put_state(1, {"p1": b"one"}, {"u:1": "p1"}, [])
    durable = tx.commit_later()
    read: Future[bytes | None] = Future()  # another thread: answered from the landing batch
    threading.Thread(target=lambda: read.set_result(store.load_profile("p1"))).start()
    assert read.result(WAIT_S) == b"one"
    counted: Future[int] = Future()  # the write connection: only once the batch is durable
    threading.Thread(target=lambda: counted.set_result(store.count_events())).start()
    assert not durable.done() and not counted.done()
    held.set()
    assert counted.result(WAIT_S) == 1 and durable.result(WAIT_S) is None
    store.close()


def test_a_failed_landing_keeps_nothing_and_fails_the_next_commit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    with store.transaction() as tx:
        _log_one(tx, 1)
    fail_next_commit(store, monkeypatch)
    tx = store.transaction()
    _log_one(tx, 2)
    tx.put_state(2, {"p2": b"two"}, {"u:2": "p2"}, [])
    durable = tx.commit_later()
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        durable.result(WAIT_S)
    assert store.load_profile("p2") is None  # a failed landing is not read as committed
    tx = store.transaction()  # built on the failed batch, as an engine would be
    assert tx.next_seq() == 3
    tx.append([(3, "p3", 3.0, 3.0, b"{}", 0)])
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        tx.commit()
    store.settle()  # reported once
    assert store.last_seq() == 1 and store.resolve("u:2") is None
    with store.transaction() as tx:  # the store goes on
        assert _log_one(tx, 2) == set()
    assert store.last_seq() == 2
    store.close()


def test_a_failed_landing_another_thread_waited_out_leaves_the_store_as_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    fail_next_commit(store, monkeypatch)
    tx = store.transaction()
    _log_one(tx, 1)
    durable = tx.commit_later()
    _settle_elsewhere(store)  # waits, and is not told
    assert durable.exception() is not None
    store.settle()  # the writer learns it from the future (the engine: `land`)
    with store.transaction() as tx:
        assert tx.next_seq() == 1 and _log_one(tx, 1) == set()
    assert store.last_seq() == 1
    store.close()


def test_ingest_answers_once_durable_and_a_failed_batch_is_not_applied(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = sqlite_engine(tmp_path / "x.db")
    engine.commit_batch(_events(track("Product Viewed", user="ann", at=T0)), later=True)
    engine.land()
    assert isinstance(engine.store, SQLiteStore)
    fail_next_commit(engine.store, monkeypatch)
    result = engine.commit_batch(_events(track("Product Viewed", user="bob", at=T0 + 1)),
                                 later=True)
    assert result.durable is not None
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        result.durable.result(WAIT_S)
    _settle_elsewhere(engine.store)  # seen by another thread first
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        engine.land()  # the engine is told all the same, and goes back to what was kept
    assert engine.find("bob") is None and engine.last_seq == 1  # back to what was kept
    assert engine.events_stored() == 1
    done = engine.commit_batch(_events(track("Product Viewed", user="bob", at=T0 + 2)),
                               later=True)
    engine.land()
    assert done.accepted == 1 and engine.find("bob") is not None
    assert engine.events_stored() == 2
    engine.close()


def test_a_decision_finds_a_stored_record_while_a_batch_is_being_applied(
        tmp_path: Path) -> None:
    """`find` from another thread (`/v1/decide` on the event loop) while the engine's thread
    holds the store for a group commit: answered from the last commit, not after the batch,
    and the identity map, the writer's, is left as it was."""
    engine = sqlite_engine(tmp_path / "x.db")
    engine.commit_batch(_events(track("Product Viewed", user="ann", at=T0)))
    engine.close()
    engine = sqlite_engine(tmp_path / "x.db")  # nothing cached: the record is read
    identities = dict(engine.state.identities)
    tx = engine.store.transaction()  # the engine's thread, mid-batch
    try:
        ann: Future[object] = Future()
        nobody: Future[object] = Future()
        threading.Thread(target=lambda: (ann.set_result(engine.find("ann")),
                                         nobody.set_result(engine.find("nobody")))).start()
        found = ann.result(WAIT_S)
        assert nobody.result(WAIT_S) is None
    finally:
        tx.rollback()
    assert getattr(found, "user_id", None) == "ann"
    assert engine.state.identities == identities and engine.state.profiles == {}
    engine.close()


def test_the_worker_answers_a_batch_only_once_it_is_durable(
        tmp_path: Path, held: threading.Event) -> None:
    worker = EngineWorker(sqlite_engine(tmp_path / "x.db")).start()
    answer: Future[IngestResult] = worker.submit(_events(track("Product Viewed", user="ann")))
    with pytest.raises(TimeoutError):
        answer.result(0.2)  # written, its COMMIT held: not answered yet
    held.set()
    assert answer.result(WAIT_S).accepted == 1
    worker.stop()


def test_the_worker_answers_a_failed_batch_with_the_error_and_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = sqlite_engine(tmp_path / "x.db")
    assert isinstance(engine.store, SQLiteStore)
    worker = EngineWorker(engine).start()
    assert worker.submit(_events(track("Product Viewed", user="ann"))).result(WAIT_S)
    worker.call(lambda e: fail_next_commit(engine.store, monkeypatch)).result(WAIT_S)
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        worker.submit(_events(track("Product Viewed", user="bob", at=T0 + 1))).result(WAIT_S)
    again = worker.submit(_events(track("Product Viewed", user="bob", at=T0 + 2))).result(WAIT_S)
    assert again.accepted == 1 and worker.alive
    assert worker.call(lambda e: e.events_stored()).result(WAIT_S) == 2
    worker.stop()


def test_the_worker_writes_its_batches_itself_and_a_file_hands_them_over(
        tmp_path: Path, writer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the commit thread may write batches (`writer`), a file's commits let it, and the
    worker's, whose clients wait on each commit, write them on the engine's thread and hand
    over only the `COMMIT`."""
    written: list[int] = []  # statements each landing leaves to the commit thread
    land = SQLiteStore._land

    def counted(store: SQLiteStore, landing: Landing) -> None:
        written.append(len(landing.statements))
        land(store, landing)

    monkeypatch.setattr(SQLiteStore, "_land", counted)
    engine = sqlite_engine(tmp_path / "x.db")
    engine.commit_batch(_events(track("Product Viewed", user="ann")), later=True)
    engine.land()
    worker = EngineWorker(engine).start()
    done = worker.submit(_events(track("Product Viewed", user="bob", at=T0 + 1)))
    assert done.result(WAIT_S).accepted == 1
    worker.stop()
    handed, by_worker = written
    assert by_worker == 0
    assert (handed > 0) == (writer == "commit thread")
