"""One contract, every backend (memory, sqlite)."""

from __future__ import annotations

from intently.profiles import Merge
from intently.store import Store


def rows(first: int, ids: list[str], customer: str = "c", prev: int = 0) -> list:
    """Log rows of one record, each pointing back to the one before (the first to `prev`)."""
    return [(first + i, customer, 100.0 + i, 200.0, f'{{"m":"{mid}"}}'.encode(),
             first + i - 1 if i else prev) for i, mid in enumerate(ids)]


def write(store: Store, first: int, ids: list[str], customer: str = "c", prev: int = 0
          ) -> set[int]:
    store.begin()
    dupes = store.claim(ids, first)
    store.append([r for i, r in enumerate(rows(first, ids, customer, prev)) if i not in dupes])
    store.commit()
    return dupes


def test_a_new_store_is_empty(store: Store) -> None:
    assert store.last_seq() == 0 and store.checkpoint_seq() == 0
    assert store.count_events() == 0 and store.count_profiles() == 0
    assert store.resolve_any() is None and list(store.read_log(0)) == []


def test_claim_reports_duplicates_old_and_within_the_call(store: Store) -> None:
    assert write(store, 1, ["a", "b"]) == set()
    assert write(store, 3, ["b", "c", "c", "d"]) == {0, 2}
    assert store.count_events() == 4
    assert store.last_seq() == 6
    log = [row[0] for batch in store.read_log(0) for row in batch]
    assert log == [1, 2, 4, 6]


def test_rollback_keeps_nothing(store: Store) -> None:
    store.begin()
    store.claim(["x"], 1)
    store.append(rows(1, ["x"]))
    store.rollback()
    assert store.count_events() == 0
    assert write(store, 1, ["x"]) == set()  # the id was not taken


def test_read_log_after_a_seq_in_batches(store: Store) -> None:
    write(store, 1, [f"m{i}" for i in range(10)])
    batches = list(store.read_log(after=4, batch=3))
    assert [len(b) for b in batches] == [3, 3]
    assert batches[0][0] == (5, 104.0, 200.0, b'{"m":"m4"}')


def test_timeline_newest_first_across_record_ids(store: Store) -> None:
    write(store, 1, ["a1", "a2"], customer="anon")
    write(store, 3, ["u1"], customer="user")
    write(store, 4, ["o1"], customer="other")
    assert [row[0] for row in store.timeline(["user", "anon"], heads=[3, 2])] == [3, 2, 1]
    assert [row[0] for row in store.timeline(["user", "anon"], 2, [3, 2])] == [3, 2]
    store.checkpoint(2, {}, {}, [])
    write(store, 5, ["a3"], customer="anon", prev=2)
    assert [row[0] for row in store.timeline(["user", "anon"], heads=[3, 5])] == [5, 3, 2, 1]
    assert [row[0] for row in store.timeline(["anon"], heads=[5])] == [5, 2, 1]
    assert store.timeline(["nobody"], heads=[]) == []


def test_timeline_finds_records_merged_at_a_checkpoint(store: Store) -> None:
    write(store, 1, ["a1", "a2"], customer="anon")
    write(store, 3, ["u1", "u2"], customer="user")
    store.checkpoint(4, {}, {}, [Merge("user", "anon", "identify", 5.0, head=2)])
    assert store.merges("user") == [Merge("user", "anon", "identify", 5.0, 2)]
    # the caller knows only the surviving record's head; the store knows the merged one's
    assert [row[0] for row in store.timeline(["user", "anon"], heads=[4])] == [4, 3, 2, 1]


def test_checkpoint_writes_state_atomically(store: Store) -> None:
    store.checkpoint(7, {"p1": b"one", "p2": b"two"}, {"u:1": "p1", "a:x": "p2"},
                     [Merge("p1", "p0", "identify", 5.0)])
    assert store.checkpoint_seq() == 7
    assert store.load_profile("p1") == b"one"
    assert store.resolve("a:x") == "p2" and store.resolve("u:404") is None
    assert store.resolve_any() is not None
    assert store.merges("p1") == [Merge("p1", "p0", "identify", 5.0)]
    store.checkpoint(9, {"p2": None, "p1": b"uno"}, {"a:x": "p1"}, [])
    assert store.load_profile("p2") is None and store.load_profile("p1") == b"uno"
    assert store.resolve("a:x") == "p1"
    assert store.profile_ids() == ["p1"] and store.count_profiles() == 1


def test_models_are_versioned_and_the_newest_is_in_use(store: Store) -> None:
    assert store.load_model("intent") is None and store.model_versions("intent") == []
    store.save_model("intent", "v1", b"one")
    store.save_model("other", "x", b"x")
    store.save_model("intent", "v2", b"two")
    assert store.load_model("intent") == b"two"
    assert store.model_versions("intent") == ["v1", "v2"]


def test_events_since_an_event_time(store: Store) -> None:
    write(store, 1, ["a", "b", "c"], customer="x")  # event times 100, 101, 102
    found = [row for batch in store.events_since(101.0, batch=1) for row in batch]
    assert found == [("x", b'{"m":"b"}'), ("x", b'{"m":"c"}')]


def test_orders_are_claimed_once_and_a_rollback_releases_them(store: Store) -> None:
    store.begin()
    assert store.claim_orders([("o-1", 1), ("o-2", 2), ("o-1", 3)]) == {3}
    store.rollback()
    store.begin()
    assert store.claim_orders([("o-1", 5)]) == set()  # the rolled-back claim is gone
    store.commit()
    store.begin()
    assert store.claim_orders([("o-1", 7), ("o-3", 8)]) == {7}
    assert store.claim_orders([("o-1", 5)]) == set()  # its own claim, asked again
    store.commit()


def test_accounts_merge_traits_and_members_and_a_rollback_keeps_none(store: Store) -> None:
    store.begin()
    store.put_accounts([("acme", {"name": "Acme", "plan": "free"}, 100.0, "u:1")])
    store.rollback()
    assert store.account("acme") is None and store.account_ids() == []
    store.begin()
    store.put_accounts([("acme", {"name": "Acme", "plan": "free"}, 100.0, "u:1"),
                        ("acme", {"plan": "pro", "seats": 5}, 90.0, "a:x"),
                        ("acme", {"plan": "team"}, 120.0, "u:1"),
                        ("zeta", {}, 110.0, "u:1")])
    store.commit()
    acme = store.account("acme")
    assert acme is not None
    assert acme.traits == {"name": "Acme", "plan": "team", "seats": 5}  # later calls win
    assert (acme.first_seen, acme.last_seen) == (90.0, 120.0)
    assert sorted(acme.members) == [("a:x", 90.0), ("u:1", 100.0)]  # each member once
    assert store.accounts_of(["u:1"]) == ["acme", "zeta"]
    assert store.accounts_of(["a:x", "e:nobody"]) == ["acme"] and store.accounts_of([]) == []
    assert store.account_ids() == ["acme", "zeta"] and store.account_ids(1, 1) == ["zeta"]


def test_set_aside_events_are_kept_with_their_errors(store: Store) -> None:
    write(store, 1, ["a", "b", "c"])
    store.begin()
    store.set_aside(2, "TypeError: boom", 300.0)
    store.rollback()
    assert store.set_aside_seqs() == set() and store.set_aside_events() == []
    store.begin()
    store.set_aside(2, "TypeError: boom", 300.0)
    store.commit()
    assert store.set_aside_seqs() == {2} and store.set_aside_seqs(after=2) == set()
    assert store.set_aside_events() == [(2, 101.0, 200.0, b'{"m":"b"}', "TypeError: boom",
                                         300.0)]
