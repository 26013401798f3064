"""The `Outbox` contract, every backend: messages put with the events' transaction, claimed
under a lease (two dispatchers never get one message at once), outcomes marked."""

from __future__ import annotations

from intently.store import Store


def put(store: Store, *messages: tuple[str, float]) -> None:
    with store.transaction() as tx:
        tx.put_effects([(mid, "s", f"p-{mid}", "A", "email", due, b'{"to":"x"}')
                        for mid, due in messages], [])


def test_due_messages_are_claimed_oldest_first_and_once(store: Store) -> None:
    put(store, ("m2", 20.0), ("m1", 10.0), ("m3", 99.0))
    put(store, ("m1", 10.0))  # a replay puts the same id again: kept once
    first = store.claim_due(30.0, "d1", lease_s=60.0, limit=1)
    assert [m.id for m in first] == ["m1"] and first[0].status == "sending"
    assert [m.id for m in store.claim_due(30.0, "d2", lease_s=60.0)] == ["m2"]
    assert store.claim_due(30.0, "d3") == []  # m1 and m2 are leased, m3 is not due
    assert first[0].body == b'{"to":"x"}' and first[0].channel == "email"


def test_a_lease_that_runs_out_is_claimed_again(store: Store) -> None:
    put(store, ("m1", 10.0))
    assert [m.id for m in store.claim_due(10.0, "crashed", lease_s=60.0)] == ["m1"]
    assert store.claim_due(69.0, "d2", lease_s=60.0) == []  # the lease still holds
    again = store.claim_due(70.0, "d2", lease_s=60.0)
    assert [m.id for m in again] == ["m1"]


def test_a_restarted_dispatcher_takes_back_what_it_held(store: Store) -> None:
    put(store, ("m1", 10.0))
    store.claim_due(10.0, "host-a", lease_s=300.0)  # then it crashed, mid-send
    assert store.claim_due(11.0, "host-b") == []
    assert [m.id for m in store.claim_due(11.0, "host-a")] == ["m1"]


def test_marks_record_outcomes_and_retries_come_back_when_due(store: Store) -> None:
    put(store, ("m1", 10.0), ("m2", 10.0))
    store.claim_due(10.0, "d1")
    store.mark("m1", "pending", 1, 50.0, "503 busy", 10.0)  # retry at 50
    store.mark("m2", "delivered", 1, 0.0, "", 10.0)
    assert store.claim_due(49.0, "d1") == []
    [retry] = store.claim_due(50.0, "d1")
    assert (retry.id, retry.attempts, retry.error) == ("m1", 1, "503 busy")
    store.mark("m1", "failed", 2, 0.0, "gave up", 51.0)
    assert store.claim_due(10_000.0, "d1") == []  # delivered and failed are done
    assert {m.id: m.status for m in store.outbox()} == {"m1": "failed", "m2": "delivered"}
