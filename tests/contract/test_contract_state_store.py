"""The `StateStore` contract, every backend: records, identities, merges and timers, written
atomically at checkpoints."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from intently.store import Merge, SegmentChange, Store

WAIT_S = 10.0


def test_a_new_state_is_empty(store: Store) -> None:
    assert store.checkpoint_seq() == 0 and store.count_profiles() == 0
    assert store.resolve_any() is None and store.load_timers() == {}
    assert store.profile_ids() == [] and store.load_profile("p") is None


def test_checkpoint_writes_records_identities_and_merges(store: Store) -> None:
    store.checkpoint(7, {"p1": b"one", "p2": b"two"}, {"u:1": "p1", "a:x": "p2"},
                     [Merge("p1", "p0", "identify", 5.0)])
    assert store.checkpoint_seq() == 7
    assert store.load_profile("p1") == b"one"
    assert store.resolve("a:x") == "p2" and store.resolve("u:404") is None
    assert store.resolve_any() in ("u:1", "a:x")
    assert store.merges("p1") == [Merge("p1", "p0", "identify", 5.0)]
    store.checkpoint(9, {"p2": None, "p1": b"uno"}, {"a:x": "p1"},
                     [Merge("p1", "p2", "alias", 6.0, head=3)])
    assert store.load_profile("p2") is None and store.load_profile("p1") == b"uno"
    assert store.resolve("a:x") == "p1"
    assert [m.from_id for m in store.merges("p1")] == ["p0", "p2"]  # oldest first
    assert store.merges("p1")[1].head == 3
    assert store.profile_ids() == ["p1"] and store.count_profiles() == 1


def test_profile_ids_are_paged_in_order(store: Store) -> None:
    store.checkpoint(1, {f"p{i}": b"x" for i in range(5)}, {}, [])
    assert store.profile_ids(2) == ["p0", "p1"] and store.profile_ids(2, 3) == ["p3", "p4"]
    # or after an id (the next page of a walk), in the byte order of the ids
    store.checkpoint(2, {"P": b"x", "p10": b"x", "q": b"x"}, {}, [])
    assert store.profile_ids(3, after="p1") == ["p10", "p2", "p3"]
    assert store.profile_ids(10, after="p3") == ["p4", "q"]
    assert store.profile_ids(10, after="") == ["P", "p0", "p1", "p10", "p2", "p3", "p4", "q"]
    assert store.profile_ids(10, after="q") == []
    assert store.profile_ids(2, after="p0x") == ["p1", "p10"]  # an id the store lacks


def test_timers_are_set_cleared_and_dropped_with_their_record(store: Store) -> None:
    store.checkpoint(1, {"p1": b"1", "p2": b"2"}, {}, [], timers={"p1": 50.0, "p2": 60.0})
    assert store.load_timers() == {"p1": 50.0, "p2": 60.0}
    store.checkpoint(2, {}, {}, [], timers={"p1": None, "p2": 70.0})
    assert store.load_timers() == {"p2": 70.0}
    store.checkpoint(3, {"p2": None}, {}, [])  # a record deleted takes its timer along
    assert store.load_timers() == {}


def test_segment_changes_keep_the_member_lists(store: Store) -> None:
    store.checkpoint(1, {"p1": b"1", "p2": b"2"}, {}, [], changes=[
        SegmentChange("p1", "vip", True, 10.0), SegmentChange("p2", "vip", True, 11.0)])
    store.checkpoint(2, {}, {}, [], changes=[SegmentChange("p1", "vip", False, 12.0)])
    assert store.segment_members("vip") == [("p2", 11.0)]
    assert store.segment_sizes() == {"vip": 1}
    store.checkpoint(3, {"p2": None}, {}, [])  # a record deleted leaves its segments
    assert store.segment_members("vip") == [] and store.segment_sizes() == {}
    store.checkpoint(4, {"p3": b"3", "p4": b"4"}, {}, [], changes=[
        SegmentChange(p, s, True, 13.0) for p in ("p3", "p4") for s in ("a", "b", "vip")])
    store.checkpoint(5, {"p3": None}, {}, [])  # every one of them, and only its own
    assert store.segment_sizes() == {"a": 1, "b": 1, "vip": 1}
    assert store.segment_members("b") == [("p4", 13.0)]


def test_many_records_and_identities_in_one_read(store: Store) -> None:
    """What a batch's cache misses ask for at once, over more keys than one query takes."""
    n = 2000
    store.checkpoint(1, {f"p{i}": f"body{i}".encode() for i in range(n)},
                     {f"u:{i}": f"p{i}" for i in range(n)}, [])
    keys = [f"u:{i}" for i in range(0, n, 2)] + ["u:nobody", "a:nobody"]
    assert store.resolve_many(keys) == {f"u:{i}": f"p{i}" for i in range(0, n, 2)}
    ids = [f"p{i}" for i in range(n - 1, -1, -3)] + ["p-none"]
    assert store.load_profiles(ids) == {f"p{i}": f"body{i}".encode() for i in range(n - 1, -1, -3)}
    assert store.resolve_many([]) == {} and store.load_profiles([]) == {}



def test_the_last_of_a_records_changes_in_one_checkpoint_holds(store: Store) -> None:
    """Changes pile up between checkpoints: a record may enter, leave and enter again."""
    store.checkpoint(1, {"p1": b"1", "p2": b"2"}, {}, [], changes=[
        SegmentChange("p1", "vip", True, 10.0), SegmentChange("p2", "vip", True, 10.0),
        SegmentChange("p1", "vip", False, 11.0), SegmentChange("p1", "vip", True, 12.0),
        SegmentChange("p2", "vip", False, 13.0)])
    assert store.segment_members("vip") == [("p1", 12.0)]
    assert store.segment_sizes() == {"vip": 1}
    assert len(store.segment_changes("vip")) == 5


def test_another_thread_reads_the_last_commit_without_waiting_for_the_writer(
        store: Store) -> None:
    """A decision at the till reads a record while the writer's group commit is open (a
    server's batch, pipeline included): it is answered from the last commit, at once."""
    store.checkpoint(1, {"p1": b"one"}, {"u:1": "p1"}, [])
    with ThreadPoolExecutor(1) as other, store.transaction() as tx:
        tx.next_seq()  # the writer's transaction, open until the reads are answered
        reads = [other.submit(store.snapshot_profile, "p1"),
                 other.submit(store.snapshot_profile, "p2"),
                 other.submit(store.snapshot_identity, "u:1"),
                 other.submit(store.snapshot_identity, "u:2")]
        found = [read.result(WAIT_S) for read in reads]
    assert found == [b"one", None, "p1", None]
    store.checkpoint(2, {"p1": b"uno", "p2": b"two"}, {"u:2": "p2"}, [])
    assert store.snapshot_profile("p1") == b"uno" and store.snapshot_identity("u:2") == "p2"
