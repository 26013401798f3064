"""The `ReadModels` contract, every backend: timelines, segment members and movements, the
outbox and journal as the surfaces show them, accounts."""

from __future__ import annotations

from _log import write

from intently.store import JournalChain, JournalEntry, Merge, SegmentChange, Store


def test_timeline_newest_first_across_record_ids(store: Store) -> None:
    write(store, 1, ["a1", "a2"], record="anon")
    write(store, 3, ["u1"], record="user")
    write(store, 4, ["o1"], record="other")
    assert [row.seq for row in store.timeline(["user", "anon"], heads=[3, 2])] == [3, 2, 1]
    assert [row.seq for row in store.timeline(["user", "anon"], 2, [3, 2])] == [3, 2]
    store.checkpoint(2, {}, {}, [])
    write(store, 5, ["a3"], record="anon", prev=2)
    assert [row.seq for row in store.timeline(["user", "anon"], heads=[3, 5])] == [5, 3, 2, 1]
    assert [row.seq for row in store.timeline(["anon"], heads=[5])] == [5, 2, 1]
    assert store.timeline(["nobody"], heads=[]) == []
    assert store.timeline(["user"], heads=[3])[0].payload == b'{"m":"u1"}'


def test_timeline_finds_records_merged_at_a_checkpoint(store: Store) -> None:
    write(store, 1, ["a1", "a2"], record="anon")
    write(store, 3, ["u1", "u2"], record="user")
    store.checkpoint(4, {}, {}, [Merge("user", "anon", "identify", 5.0, head=2)])
    # the caller knows only the surviving record's head; the store knows the merged one's
    assert [row.seq for row in store.timeline(["user", "anon"], heads=[4])] == [4, 3, 2, 1]


def test_segment_members_sizes_and_movements(store: Store) -> None:
    store.checkpoint(1, {}, {}, [], changes=[
        SegmentChange("p2", "vip", True, 10.0), SegmentChange("p1", "vip", True, 11.0),
        SegmentChange("p3", "new", True, 12.0)])
    store.checkpoint(2, {}, {}, [], changes=[SegmentChange("p2", "vip", False, 20.0)])
    assert store.segment_members("vip") == [("p1", 11.0)]
    assert store.segment_members("vip")[0].profile_id == "p1"
    assert store.segment_sizes() == {"vip": 1, "new": 1}
    moves = store.segment_changes("vip")
    assert [(m.profile_id, m.entered, m.ts) for m in moves] == [
        ("p2", True, 10.0), ("p1", True, 11.0), ("p2", False, 20.0)]
    assert [m.ts for m in store.segment_changes("vip", since=11.0)] == [11.0, 20.0]
    store.checkpoint(3, {}, {}, [], changes=[
        SegmentChange(f"q{i}", "big", True, 30.0) for i in range(5)])
    assert [m.profile_id for m in store.segment_members("big", limit=2, offset=1)] == [
        "q1", "q2"]


def test_the_outbox_and_journal_as_shown(store: Store) -> None:
    with store.transaction() as tx:
        tx.put_effects(
            [("m1", "s", "p1", "A", "email", 10.0, b"{}"),
             ("m2", "s", "p2", "B", "sms", 20.0, b"{}"),
             ("m3", "t", "p1", "A", "email", 30.0, b"{}")],
            [("j1", "s", "p1", "A", "entered", 10.0, 0.0, ""),
             ("j2", "s", "p1", "A", "converted", 15.0, 25.0, "o-1"),
             ("j3", "s", "p2", "B", "entered", 12.0, 0.0, ""),
             ("j4", "s", "p3", "A", "entered", 13.0, 0.0, ""),
             ("j1", "s", "p1", "A", "entered", 10.0, 0.0, "")])  # a replay's repeat
    assert [m.id for m in store.outbox()] == ["m3", "m2", "m1"]  # newest first
    assert [m.id for m in store.outbox(scenario="s")] == ["m2", "m1"]
    assert [m.id for m in store.outbox(profile_id="p1", limit=1)] == ["m3"]
    assert store.outbox()[0].status == "pending"
    store.mark("m1", "delivered", 1, 0.0, "", 11.0)
    assert store.outbox_counts("s") == {("A", "delivered"): 1, ("B", "pending"): 1}
    backlog = store.outbox_backlog(now=25.0)
    assert backlog.by_status == {"delivered": 1, "pending": 2}
    assert (backlog.due, backlog.oldest_due) == (1, 20.0)  # m3 is due at 30
    assert store.outbox_backlog(now=5.0)[1:] == (0, None)
    assert [j.id for j in store.journal()] == ["j2", "j4", "j3", "j1"]
    assert [j.id for j in store.journal(profile_id="p1")] == ["j2", "j1"]
    assert [j.ref for j in store.journal(scenario="s", limit=1)] == ["o-1"]
    counts = {(c.arm, c.kind): (c.rows, c.total, c.customers)
              for c in store.journal_counts("s")}
    assert counts == {("A", "entered"): (2, 0.0, 2), ("A", "converted"): (1, 25.0, 1),
                      ("B", "entered"): (1, 0.0, 1)}
    assert store.journal_counts("none") == []


def test_a_records_journal_found_from_its_newest_row_and_a_replay_kept_once(
        store: Store) -> None:
    """A backend that chains each record's rows (SQLite) numbers them and says each record's
    newest; one that does not says nothing. Either way a record's rows are found, with its
    newest rows or without, and a replay's rows are kept once (rows in a chain are rows
    nothing but a replay produces twice)."""
    heads: dict[str, int] = {}

    def put(rows: list[JournalEntry], position: int, replayed_after: int | None = None) -> None:
        with store.transaction() as tx:
            heads.update(tx.put_effects([], [], JournalChain(rows, dict(heads), position,
                                                                   replayed_after)))

    def row(rid: str, pid: str, ts: float) -> JournalEntry:
        return JournalEntry(rid, "s", pid, "A", "entered", ts, 0.0, "")

    put([row("j1", "p1", 10.0), row("j2", "p2", 11.0), row("j3", "p1", 12.0)], 5)
    put([row("j4", "p1", 13.0)], 9)
    put([row("j3", "p1", 12.0), row("j4", "p1", 13.0), row("j5", "p1", 14.0)], 12,
        replayed_after=4)  # a replay from position 5 on, with one row more
    put([row("j4", "p1", 13.0), row("j5", "p1", 14.0), row("j6", "p1", 15.0)], 14,
        replayed_after=8)  # the same replay, from position 9 on
    for found in (store.journal(profile_id="p1", heads=[heads.get("p1", 0)]),
                  store.journal(profile_id="p1")):  # from its newest row, or without it
        assert [j.id for j in found] == ["j6", "j5", "j4", "j3", "j1"]
    assert [j.id for j in store.journal(profile_id="p1", limit=2,
                                        heads=[heads.get("p1", 0)])] == ["j6", "j5"]
    assert [j.id for j in store.journal(profile_id="p2", heads=[heads.get("p2", 0)])] == ["j2"]
    assert store.journal(profile_id="p3", heads=[0]) == []
    assert [j.id for j in store.journal()] == ["j6", "j5", "j4", "j3", "j2", "j1"]
    assert [j.id for j in store.journal(profile_id="p1", scenario="s", limit=1,
                                        heads=[heads.get("p1", 0)])] == ["j6"]


def test_accounts_merge_traits_and_members(store: Store) -> None:
    with store.transaction() as tx:
        tx.put_accounts([("acme", {"name": "Acme", "plan": "free"}, 100.0, "u:1"),
                         ("acme", {"plan": "pro", "seats": 5}, 90.0, "a:x"),
                         ("acme", {"plan": "team"}, 120.0, "u:1"),
                         ("zeta", {}, 110.0, "u:1")])
    acme = store.account("acme")
    assert acme is not None
    assert acme.traits == {"name": "Acme", "plan": "team", "seats": 5}  # later calls win
    assert (acme.first_seen, acme.last_seen) == (90.0, 120.0)
    assert sorted(acme.members) == [("a:x", 90.0), ("u:1", 100.0)]  # each member once
    assert {m.key for m in acme.members} == {"a:x", "u:1"}
    assert store.accounts_of(["u:1"]) == ["acme", "zeta"]
    assert store.accounts_of(["a:x", "e:nobody"]) == ["acme"] and store.accounts_of([]) == []
    assert store.account_ids() == ["acme", "zeta"] and store.account_ids(1, 1) == ["zeta"]
    assert store.account("nobody") is None
