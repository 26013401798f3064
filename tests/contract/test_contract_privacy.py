"""The `PrivacyStore` contract, every backend: an erasure removes everything held on a person
and nothing of anyone else's; suppressions and the privacy journal are kept."""

from __future__ import annotations

from _log import write

from intently.store import (
    AccountUpdate,
    JournalEntry,
    Merge,
    OutboxRow,
    PrivacyRequest,
    SegmentChange,
    Store,
    Subject,
    Suppression,
)


def _request(verb: str, at: float = 50.0) -> PrivacyRequest:
    return PrivacyRequest(f"r-{verb}-{at}", verb, "digest-of-subject", at, "admin", "{}")


def _two_people(store: Store) -> None:
    """Ann: record p1, with p0 merged into it (its events before the merge are filed under
    p0); Bob: record p2. One event of Ann's and one of Bob's were set aside on arrival."""
    write(store, 1, ["ann-0a", "ann-0b"], record="p0")
    write(store, 3, ["bob-1"], record="p2")
    write(store, 4, ["ann-1", "ann-2"], record="p1")
    write(store, 6, ["bob-2"], record="p2", prev=3)
    with store.transaction() as tx:
        tx.claim(["loose-ann", "loose-bob"], 7)
        tx.append([(7, "", 1.0, 1.0, b'{"userId":"ann@x.org","bad":1}', 0),
                   (8, "", 1.0, 1.0, b'{"userId":"bob@y.org","bad":1}', 0)])
        tx.set_aside(7, "ValueError: bad", 1.0)
        tx.set_aside(8, "ValueError: bad", 1.0)
        tx.put_accounts([AccountUpdate("acme", {"plan": "pro"}, 5.0, "u:ann"),
                         AccountUpdate("acme", {}, 6.0, "u:bob")])
        tx.put_effects(
            [OutboxRow("m1", "welcome", "p1", "a", "email", 10.0, b'{"to":"ann@x.org"}'),
             OutboxRow("m2", "welcome", "p2", "a", "email", 10.0, b'{"to":"bob@y.org"}')],
            [JournalEntry("j1", "welcome", "p1", "a", "sent", 10.0, 0.0, "m1"),
             JournalEntry("j2", "welcome", "p2", "a", "sent", 10.0, 0.0, "m2")])
    store.checkpoint(
        8, {"p1": b"ann's record", "p2": b"bob's record"},
        {"u:ann": "p1", "a:dev1": "p1", "e:ann@x.org": "p1", "u:bob": "p2"},
        [Merge("p1", "p0", "identify", 4.0, head=2)],
        [SegmentChange("p1", "vip", True, 9.0), SegmentChange("p2", "vip", True, 9.0)],
        {"p1": 99.0, "p2": 98.0})


def kept(store: Store, key: str) -> str:
    """An identity key as the store keeps it: a sealing store keeps emails and phones as
    keyed digests."""
    ring = getattr(store, "ring", None)
    return ring.key(key) if ring is not None else key


ANN = Subject(("p1", "p0"), ("u:ann", "a:dev1", "e:ann@x.org"), (5,), ("ann", "ann@x.org"))


def test_subject_keys_are_every_key_of_the_records(store: Store) -> None:
    _two_people(store)
    assert store.subject_keys(["p1", "p0"]) == sorted(
        ["a:dev1", kept(store, "e:ann@x.org"), "u:ann"])
    assert store.subject_keys([]) == []


def test_erase_removes_everything_held_on_the_person_and_only_that(store: Store) -> None:
    _two_people(store)
    erased = store.erase(ANN, [Suppression("d-ann", 50.0, "erased")], _request("erase"))
    assert (erased.records, erased.events, erased.messages, erased.journal) == (1, 5, 1, 1)
    assert erased.identities >= 3 and erased.merges == 1 and erased.segment_rows >= 1
    left = [(row.seq, row.payload) for batch in store.read_log(0) for row in batch]
    assert [seq for seq, _ in left] == [3, 6, 8]
    assert store.set_aside_seqs() == {8}
    assert store.load_profile("p1") is None and store.load_profile("p2") == b"bob's record"
    assert store.resolve("u:ann") is None and store.resolve("e:ann@x.org") is None
    assert store.resolve("u:bob") == "p2"
    assert store.merges("p1") == []
    assert store.segment_members("vip") == [("p2", 9.0)]
    assert [m.profile_id for m in store.segment_changes("vip")] == ["p2"]
    assert store.load_timers() == {"p2": 98.0}
    assert [m.id for m in store.outbox()] == ["m2"]
    assert [j.id for j in store.journal()] == ["j2"]
    account = store.account("acme")
    assert account is not None and [m.key for m in account.members] == ["u:bob"]
    assert store.timeline(["p1", "p0"], heads=[5, 2]) == []
    assert [e.seq for e in store.timeline(["p2"], heads=[6])] == [6, 3]
    assert store.suppressions() == [Suppression("d-ann", 50.0, "erased")]
    assert store.privacy_log() == [_request("erase")]
    assert store.count_events() == 3


def test_suppressions_are_added_once_and_lifted(store: Store) -> None:
    store.suppress([Suppression("d1", 10.0, "suppressed"), Suppression("d2", 10.0, "suppressed")],
                   _request("suppress", 10.0))
    store.suppress([Suppression("d1", 20.0, "suppressed")], _request("suppress", 20.0))
    assert store.suppressions() == [Suppression("d1", 10.0, "suppressed"),
                                    Suppression("d2", 10.0, "suppressed")]
    assert store.unsuppress(["d1", "d1", "nope"], _request("unsuppress", 30.0)) == 1
    assert [s.digest for s in store.suppressions()] == ["d2"]
    assert [r.verb for r in store.privacy_log()] == ["unsuppress", "suppress", "suppress"]
    assert len(store.privacy_log(limit=1)) == 1
    store.log_request(_request("segment.put", 40.0))  # a row on its own, kept once
    store.log_request(_request("segment.put", 40.0))
    assert [r.verb for r in store.privacy_log()][:2] == ["segment.put", "unsuppress"]
    assert len(store.privacy_log()) == 4


def test_retention_rewrites_payloads_and_drops_old_events(store: Store) -> None:
    with store.transaction() as tx:
        tx.claim(["e1", "e2", "e3"], 1)
        tx.append([(1, "c", 10.0, 100.0, b'{"ip":"203.0.113.9"}', 0),
                   (2, "c", 11.0, 200.0, b'{"ip":"203.0.113.9"}', 1),
                   (3, "c", 12.0, 300.0, b'{"ip":"203.0.113.9"}', 2)])
        tx.set_aside(1, "ValueError: old", 100.0)
    store.rewrite_payloads([(2, b'{}'), (3, b'{"kept":1}')])
    assert [r.payload for b in store.read_log(0) for r in b] == [
        b'{"ip":"203.0.113.9"}', b'{}', b'{"kept":1}']
    assert store.drop_events(received_before=250.0, up_to_seq=1) == 1  # 2: past the bound
    assert [r.seq for b in store.read_log(0) for r in b] == [2, 3]
    assert store.set_aside_seqs() == set()
    assert store.drop_events(received_before=250.0, up_to_seq=3) == 1
    assert [r.seq for b in store.read_log(0) for r in b] == [3]


def test_messages_are_rewritten_and_keys_renamed(store: Store) -> None:
    """What a key rotation does: messages' bodies and errors replaced, keys renamed (in the
    identity table and in accounts), delivery state and records untouched."""
    _two_people(store)
    store.mark("m1", "failed", 3, 0.0, "550 no such user", 20.0)
    store.rewrite_messages([("m1", b'{"to":"sealed"}', "550 sealed")])
    [m1] = [m for m in store.outbox() if m.id == "m1"]
    assert (m1.body, m1.error, m1.status, m1.attempts) == (b'{"to":"sealed"}', "550 sealed",
                                                          "failed", 3)
    store.rename_identities([("u:ann", "u:ann-2"), ("u:nobody", "u:none")])
    assert store.resolve("u:ann-2") == "p1" and store.resolve("u:ann") is None
    assert store.accounts_of(["u:ann-2"]) == ["acme"] and store.accounts_of(["u:ann"]) == []
    assert store.resolve("u:none") is None and store.resolve("u:bob") == "p2"
