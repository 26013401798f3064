"""The `EventLog` contract, every backend: group commits through a transaction object,
dedupe by message id and order id, reads from a position, set-aside events."""

from __future__ import annotations

import threading

import pytest
from _log import rows, write

from intently import StoreError
from intently.store import Merge, SegmentChange, Store, StoredEvent


def test_a_new_log_is_empty(store: Store) -> None:
    assert store.last_seq() == 0 and store.count_events() == 0
    assert list(store.read_log(0)) == [] and list(store.events_since(0.0)) == []
    assert store.set_aside_seqs() == set() and store.set_aside_events() == []


def test_claim_reports_duplicates_old_and_within_the_call(store: Store) -> None:
    assert write(store, 1, ["a", "b"]) == set()
    assert write(store, 3, ["b", "c", "c", "d"]) == {0, 2}
    assert store.count_events() == 4 and store.last_seq() == 6
    assert [row.seq for batch in store.read_log(0) for row in batch] == [1, 2, 4, 6]


def test_claims_in_one_transaction_see_each_other_and_hold_at_commit(store: Store) -> None:
    """A backend may write claims only at commit (SQLite does): they are answered when asked
    all the same, against what the store holds and what this transaction claimed."""
    write(store, 1, ["old"])
    with store.transaction() as tx:
        assert tx.claim(["a", "old"], 2) == {1}
        assert tx.claim(["b", "a", "c"], 4) == {1}  # "a" is this transaction's, at seq 2
        tx.append(rows(2, ["a"]) + rows(4, ["b"]) + rows(6, ["c"]))
    assert store.last_seq() == 6 and store.count_events() == 4
    with store.transaction() as tx:
        assert tx.claim(["a", "b", "c", "d"], 7) == {0, 1, 2}


def test_the_log_assigns_positions(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.next_seq() == 1
        tx.claim(["a", "b", "c"], 1)
        tx.append(rows(1, ["a", "b"]))
        assert tx.next_seq() == 3
    tx = store.transaction()
    assert tx.next_seq() == 3  # what the last commit left
    tx.append(rows(5, ["e"]))  # positions of duplicates may stay unused
    assert tx.next_seq() == 6
    tx.rollback()
    tx = store.transaction()
    assert tx.next_seq() == 3  # a rollback gives its positions back
    with pytest.raises(StoreError, match="taken"):
        tx.append(rows(2, ["x"]))
    tx.rollback()
    assert store.last_seq() == 2


def test_a_rolled_back_transaction_keeps_nothing(store: Store) -> None:
    tx = store.transaction()
    tx.claim(["x"], 1)
    tx.append(rows(1, ["x"]))
    tx.set_aside(1, "boom", 1.0)
    tx.put_accounts([("acme", {"a": 1}, 1.0, "u:1")])
    tx.put_effects([("m1", "s", "p", "A", "log", 1.0, b"{}")],
                   [("j1", "s", "p", "A", "entered", 1.0, 0.0, "")])
    tx.rollback()
    tx.rollback()  # a second call does nothing
    assert store.count_events() == 0 and store.set_aside_seqs() == set()
    assert store.account("acme") is None and store.outbox() == [] and store.journal() == []
    assert write(store, 1, ["x"]) == set()  # the id was not taken


def test_the_transaction_as_a_context_manager_rolls_back_on_an_exception(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.claim(["x"], 1)
        tx.append(rows(1, ["x"]))
        raise RuntimeError("the pipeline failed")
    assert store.count_events() == 0
    assert write(store, 1, ["x"]) == set()  # and the store is usable again


def test_a_transaction_ends_once(store: Store) -> None:
    tx = store.transaction()
    tx.commit()
    with pytest.raises(RuntimeError):
        tx.commit()


def test_one_writer_at_a_time(store: Store) -> None:
    tx = store.transaction()
    opened = threading.Event()

    def second() -> None:
        with store.transaction():
            opened.set()

    other = threading.Thread(target=second)
    other.start()
    assert not opened.wait(0.2)  # waits for the first
    tx.commit()
    assert opened.wait(10)
    other.join(10)


def test_read_log_after_a_position_in_batches(store: Store) -> None:
    write(store, 1, [f"m{i}" for i in range(10)])
    batches = list(store.read_log(after=4, batch=3))
    assert [len(b) for b in batches] == [3, 3]
    first = batches[0][0]
    assert first == StoredEvent(5, 104.0, 200.0, b'{"m":"m4"}')
    assert (first.seq, first.ts, first.received_at) == (5, 104.0, 200.0)


def test_events_since_an_event_time(store: Store) -> None:
    write(store, 1, ["a", "b", "c"], record="x")  # event times 100, 101, 102
    found = [row for batch in store.events_since(101.0, batch=1) for row in batch]
    assert found == [("x", b'{"m":"b"}', 101.0, 200.0), ("x", b'{"m":"c"}', 102.0, 200.0)]
    assert [(row.record_id, row.ts, row.received_at) for row in found] == [
        ("x", 101.0, 200.0), ("x", 102.0, 200.0)]  # the log's times, not the payload's
    write(store, 4, ["d", "e", "f"], record="y")  # event times 100, 101, 102 again
    assert len([row for batch in store.events_since(101.0) for row in batch]) == 4
    # logged after a walk began: left to the events the walk lets through
    up_to = [row for batch in store.events_since(101.0, until=3) for row in batch]
    assert up_to == found


def test_a_page_of_events_since_reads_at_most_its_batch_of_positions(store: Store) -> None:
    """A stretch of the log outside the window gives empty pages, each read quickly, instead
    of one page that reads all of it (a walk lets events through between pages)."""
    write(store, 1, [f"m{i}" for i in range(10)])  # event times 100 ... 109
    write(store, 14, ["n0", "n1"])  # positions 11-13 unused; event times 100, 101
    pages = [[row.ts for row in page] for page in store.events_since(107.0, batch=3)]
    # positions 1-3, 4-6, 7-9, 10-12 (11 and 12 unused) and 14-16
    assert pages == [[], [], [107.0, 108.0], [109.0], []]


def test_events_since_skip_what_was_received_before_a_time(store: Store) -> None:
    """Receive times a minute and more apart: each commit marks the log (`_marks`). What
    was received before `received_from` is not read; what was received later is, though a
    clock set back files it with an earlier time (the marks hold the highest time so far)."""
    write(store, 1, ["a", "b"], received=1_000.0)
    write(store, 3, ["c", "d"], received=2_000.0)
    write(store, 5, ["e", "f"], received=3_000.0)
    write(store, 7, ["g"], received=1_500.0)  # a clock set back
    every = [row.payload for page in store.events_since(0.0) for row in page]
    assert len(every) == 7
    since = [row.payload for page in store.events_since(0.0, received_from=2_500.0)
             for row in page]
    assert since == [b'{"m":"e"}', b'{"m":"f"}', b'{"m":"g"}']
    assert [row.payload for page in store.events_since(0.0, received_from=1_000.0)
            for row in page] == every
    assert [row for page in store.events_since(0.0, received_from=9_000.0)
            for row in page] == [row for page in store.events_since(0.0, received_from=3_000.5)
                                 for row in page]


def test_orders_are_claimed_once_and_a_rollback_releases_them(store: Store) -> None:
    tx = store.transaction()
    assert tx.claim_orders([("o-1", 1), ("o-2", 2), ("o-1", 3)]) == {3}
    tx.rollback()
    with store.transaction() as tx:
        assert tx.claim_orders([("o-1", 5)]) == set()  # the rolled-back claim is gone
    with store.transaction() as tx:
        assert tx.claim_orders([("o-1", 7), ("o-3", 8)]) == {7}
        assert tx.claim_orders([("o-1", 5)]) == set()  # its own claim, asked again
        assert tx.claim_orders([]) == set()


def test_set_aside_events_are_kept_with_their_errors(store: Store) -> None:
    write(store, 1, ["a", "b", "c"])
    with store.transaction() as tx:
        tx.set_aside(2, "TypeError: boom", 300.0)
    assert store.set_aside_seqs() == {2} and store.set_aside_seqs(after=2) == set()
    [aside] = store.set_aside_events()
    assert aside == (2, 101.0, 200.0, b'{"m":"b"}', "TypeError: boom", 300.0)
    assert (aside.seq, aside.error, aside.at) == (2, "TypeError: boom", 300.0)
    assert store.set_aside_events(limit=0) == []
    with store.transaction() as tx:  # set aside again: the later error stays
        tx.set_aside(2, "ValueError: again", 400.0)
    assert [(a.seq, a.error, a.at) for a in store.set_aside_events()] == [
        (2, "ValueError: again", 400.0)]


def test_state_written_with_a_log_transaction_is_kept_only_if_it_commits(store: Store) -> None:
    with store.transaction() as tx:  # an incremental checkpoint: records with their events
        tx.append([(1, "p1", 1.0, 1.0, b"{}", 0), (2, "p2", 2.0, 2.0, b"{}", 0)])
        tx.put_state(1, {"p1": b"one"}, {"u:1": "p1"}, [], [SegmentChange("p1", "vip", True, 1.0)],
                     {"p1": 90.0})
    assert store.checkpoint_seq() == 1 and store.load_profile("p1") == b"one"
    assert store.resolve("u:1") == "p1" and store.load_timers() == {"p1": 90.0}
    assert [m.profile_id for m in store.segment_members("vip")] == ["p1"]
    tx = store.transaction()
    tx.append([(3, "p2", 3.0, 3.0, b"{}", 0)])
    tx.put_state(3, {"p2": b"two", "p1": None}, {"u:2": "p2"}, [Merge("p2", "p1", "x", 3.0)])
    tx.rollback()
    assert store.checkpoint_seq() == 1 and store.load_profile("p2") is None
    assert store.load_profile("p1") == b"one" and store.resolve("u:2") is None
    assert store.merges("p2") == [] and store.last_seq() == 2


def test_a_commit_finished_later_reads_as_committed_and_settles(store: Store) -> None:
    """`commit_later`: the writer's next transaction and reads find the batch (its claims,
    positions, records and identities) before it is durable; `settle` waits for it, and the
    next commit keeps both in order."""
    tx = store.transaction()
    first = tx.next_seq()
    assert tx.claim(["a", "b"], first) == set()
    tx.append(rows(first, ["a", "b"]))
    tx.put_state(first + 1, {"p1": b"one", "p0": None}, {"u:1": "p1"}, [])
    durable = tx.commit_later()
    with pytest.raises(RuntimeError, match="ended"):
        tx.commit()
    assert store.load_profile("p1") == b"one" and store.resolve("u:1") == "p1"
    assert store.load_profiles(["p1", "p0"]) == {"p1": b"one"}
    assert store.resolve_many(["u:1", "u:2"]) == {"u:1": "p1"}
    with store.transaction() as tx:
        assert tx.next_seq() == first + 2
        assert tx.claim(["b", "c"], first + 2) == {0}
        tx.append(rows(first + 2, ["c"]))
    assert durable.result(timeout=10) is None
    store.settle()
    store.settle()  # nothing under way: nothing to do
    assert store.last_seq() == first + 2 and store.count_events() == 3
    assert store.checkpoint_seq() == first + 1 and store.load_profile("p1") == b"one"
    tx = store.transaction()
    assert tx.claim(["a", "c", "d"], first + 3) == {0, 1}
    tx.rollback()
    nothing = store.transaction().commit_later()  # nothing written: durable at once
    assert nothing.done() and nothing.result() is None
