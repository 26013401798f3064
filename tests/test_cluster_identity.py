"""Identity across partitions: a person's devices and user id meet in one partition. A device
whose journey began in another partition moves there when it signs in (its record, events
and keys), events that still reach the old partition are forwarded, and an export or erasure
sees one person."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from conftest import MASTER_KEY, NatsServer, postgres_schema, running, wait_until
from intently.cluster import ClusterWorker, partition_schema
from intently.cluster._homes import plan
from intently.cluster._partition import Fenced, PartitionStore
from intently.config import Settings
from intently.events import as_event
from intently.roles import gateway_app
from intently.store.postgres import split_url

KEY = "gw-key"
DPO = {"Authorization": "Bearer dpo-key"}
ANN, PHONE, LAPTOP = "ann-4411", "ann-phone-77", "ann-laptop-0"
"""Her user id and two devices: by the hash of the device, the phone's journey starts in
partition 1 of 4 and the laptop's in partition 0."""


def test_plan_routes_to_the_home_of_the_user_then_of_the_device() -> None:
    homes = {f"u:{ANN}": 1, f"a:{PHONE}": 1, f"a:{LAPTOP}": 0}
    events = [as_event(e) for e in (
        {"type": "track", "event": "Viewed", "anonymousId": "new-device"},  # new: its hash
        {"type": "identify", "userId": "new-user", "anonymousId": "new-device"},
        {"type": "identify", "userId": ANN, "anonymousId": LAPTOP, "messageId": "m3"},
        {"type": "track", "event": "Viewed", "userId": ANN, "anonymousId": LAPTOP},
        {"type": "track", "event": "Viewed", "anonymousId": LAPTOP},
        {"type": "alias", "userId": ANN, "previousId": "old-device", "messageId": "m6"})]
    parts, new, moves = plan(events, homes, 4)
    device_home = parts[0]
    assert parts == [device_home, device_home, 1, 1, 1, 1]
    # keys seen first are filed where the event goes; the laptop stays home 0 until moved
    assert new == {"a:new-device": device_home, "u:new-user": device_home,
                   "a:old-device": 1}
    # the laptop joins Ann, whose home is 1: one move, asked of partition 0, once; the
    # laptop's later events in the request go to partition 1
    assert [(m.request, m.key, m.home, m.to, m.by, m.user) for m in moves] == [
        ("m3:move", f"a:{LAPTOP}", 0, 1, f"u:{ANN}", f"u:{ANN}")]


def test_plan_routes_by_email_and_phone_as_an_embedded_engine_joins_by_them() -> None:
    """An email or phone a partition knows is a person key: ranked after the user id and
    before the device; the event's other keys homed elsewhere move to its partition."""
    homes = {"e:ann@example.org": 2, f"a:{LAPTOP}": 0, f"u:{ANN}": 3, "p:+4670123": 1}
    events = [as_event(e) for e in (
        # a second device gives the newsletter's email: it goes to the email's home
        {"type": "identify", "anonymousId": "new-device", "messageId": "m1",
         "traits": {"email": " Ann@Example.org "}},
        # the laptop gives it too: the laptop's record is asked to move there
        {"type": "identify", "anonymousId": LAPTOP, "messageId": "m2",
         "traits": {"email": "ann@example.org"}},
        # the user id ranks first; the email and the phone move to the user's home
        {"type": "identify", "userId": ANN, "messageId": "m3",
         "traits": {"email": "ann@example.org", "phone": "+46 70 123"}},
        # a phone without digits is no key (every "n/a" would be one person)
        {"type": "identify", "anonymousId": "other-device", "messageId": "m4",
         "traits": {"phone": "n/a", "email": "not an email"}})]
    parts, new, moves = plan(events, homes, 4)
    assert parts[:3] == [2, 2, 3]
    assert new == {"a:new-device": 2, "a:other-device": parts[3]}
    assert [(m.request, m.key, m.home, m.to, m.by, m.user) for m in moves] == [
        ("m2:move", f"a:{LAPTOP}", 0, 2, "e:ann@example.org", ""),
        ("m3:move", "e:ann@example.org", 2, 3, f"u:{ANN}", f"u:{ANN}"),
        ("m3:move1", "p:+4670123", 1, 3, f"u:{ANN}", f"u:{ANN}")]


@pytest.fixture
def cluster(nats_server: NatsServer) -> Iterator[Settings]:
    with postgres_schema() as url:
        yield Settings(db=url, stream=nats_server.url, partitions=4, lease_seconds=3.0,
                       write_keys=(KEY,), privacy_keys=("dpo-key",), stream_ack_seconds=2.0)


def _track(mid: str, event: str, **ids: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "messageId": mid,
            "properties": {"product_id": "p1", "price": 10}, **ids}


def _rows(settings: Settings, part: int, query: str) -> list[tuple[Any, ...]]:
    conninfo, base = split_url(settings.db)
    with psycopg.connect(conninfo, autocommit=True) as db:
        return db.execute(query.format(s=partition_schema(base, part), base=base)).fetchall()


def _send(http: TestClient, events: list[dict[str, Any]]) -> None:
    answer = http.post("/v1/batch", json={"batch": events}, auth=(KEY, ""))
    assert answer.status_code == 200, answer.text


@pytest.mark.integration
def test_a_device_that_signs_in_moves_to_the_person(cluster: Settings,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    refusals = []  # the first commit of the move is refused, as after a lost lease: the
    real_move_out = PartitionStore.move_out  # partition is taken again and the move redone

    def refused_once(self: PartitionStore, *args: Any, **kwargs: Any) -> None:
        if not refusals:
            refusals.append(self.lease.partition)
            raise Fenced("refused for the test")
        real_move_out(self, *args, **kwargs)

    monkeypatch.setattr(PartitionStore, "move_out", refused_once)
    worker = ClusterWorker(cluster, name="w-identity")
    with TestClient(gateway_app(cluster)) as http, running(worker):
        _send(http, [_track("l1", "Product Viewed", anonymousId=LAPTOP),
                     _track("l2", "Product Added", anonymousId=LAPTOP),
                     {"type": "identify", "userId": ANN, "anonymousId": PHONE,
                      "messageId": "a1", "traits": {"email": "ann@example.org"}}])
        wait_until(lambda: worker.applied == 3, 30, "the worker fell short")
        assert _rows(cluster, 0, "SELECT count(*) FROM {s}.events") == [(2,)]

        _send(http, [{"type": "identify", "userId": ANN, "anonymousId": LAPTOP,
                      "messageId": "l3"}])
        wait_until(lambda: worker.adopted == 1 and worker.moved_out == 1, 30,
                   "the laptop's record did not move")
        assert refusals == [0]  # the first try was refused; the redone move adopted once
        # this gateway still has the laptop's old home cached: partition 0 forwards
        _send(http, [_track("l4", "Product Viewed", anonymousId=LAPTOP)])
        wait_until(lambda: worker.forwarded == 1 and worker.applied == 5, 30,
                   "the stale event was not forwarded")

        # partition 0 keeps nothing of hers but forwarding entries; her home is 1
        for table in ("events", "profiles", "identities", "merges"):
            assert _rows(cluster, 0, f"SELECT count(*) FROM {{s}}.{table}") == [(0,)], table
        assert sorted(_rows(cluster, 0, "SELECT key, part FROM {s}.forwards")) == [
            (f"a:{LAPTOP}", 1), (f"u:{ANN}", 1)]
        assert dict(_rows(cluster, 0, "SELECT key, part FROM {base}.homes")) == {
            f"u:{ANN}": 1, f"a:{PHONE}": 1, f"a:{LAPTOP}": 1, "e:ann@example.org": 1}

        # one person: one record with every event, once
        bundle = http.post("/v1/privacy/export", json={"identifier": LAPTOP},
                           headers=DPO).json()
        assert sorted(e["messageId"] for e in bundle["events"]) == [
            "a1", "l1", "l2", "l3", "l4"]
        assert bundle["other_records"] == []
        customer = bundle["customer"]
        assert customer["aggregates"]["events"] == 5 and customer["user_id"] == ANN
        assert customer["traits"]["email"] == "ann@example.org"
        assert {f"a:{LAPTOP}", f"a:{PHONE}", f"u:{ANN}"} <= set(customer["identities"])
        assert _rows(cluster, 1, "SELECT count(*) FROM {s}.events") == [(5,)]

        # an erasure reaches the forwarding entries and the directory too
        answer = http.post("/v1/privacy/erase", json={"identifier": ANN}, headers=DPO)
        assert answer.status_code == 202
        request = answer.json()["request"]
        wait_until(lambda: len(_rows(cluster, 0, "SELECT id FROM {base}.privacy_log WHERE "
                                     f"id LIKE '{request}:%'")) == 4, 30, "not erased")
        for part in range(4):
            for table in ("events", "profiles", "identities", "forwards"):
                assert _rows(cluster, part, f"SELECT count(*) FROM {{s}}.{table}") == [(0,)]
        assert _rows(cluster, 0, "SELECT count(*) FROM {base}.homes") == [(0,)]


@pytest.mark.integration
@pytest.mark.parametrize("fetch", [1, 100])
def test_a_record_moves_as_it_was_at_its_move_whatever_the_fetch(cluster: Settings,
                                                                  fetch: int) -> None:
    """The laptop's partition reads its events, the move and a later event of the laptop in
    one fetch or in four: either way the record moves as it was at the move's place in the
    stream and the later event is forwarded. (When the later event moved with the record
    in one fetch only, a move done again after a crash, with other fetch boundaries, sent
    other contents under the same message ids, and the stream kept the first: an event
    could be lost.)"""
    with TestClient(gateway_app(cluster)) as http:  # all sent before a worker reads
        _send(http, [_track("l1", "Product Viewed", anonymousId=LAPTOP),
                     _track("l2", "Product Added", anonymousId=LAPTOP),
                     {"type": "identify", "userId": ANN, "anonymousId": PHONE,
                      "messageId": "a1"}])
        _send(http, [{"type": "identify", "userId": ANN, "anonymousId": LAPTOP,
                      "messageId": "l3"}])  # a move asked of partition 0
        _send(http, [_track("l4", "Product Viewed", anonymousId=LAPTOP)])  # cached: to 0
        worker = ClusterWorker(cluster, name=f"w-fetch-{fetch}", fetch=fetch)
        with running(worker):
            wait_until(lambda: worker.adopted == 1 and worker.applied == 5, 30,
                       "the laptop's record did not move")
            bundle = http.post("/v1/privacy/export", json={"identifier": ANN},
                               headers=DPO).json()
        assert worker.forwarded == 1 and worker.moved_out == 1
        assert sorted(e["messageId"] for e in bundle["events"]) == [
            "a1", "l1", "l2", "l3", "l4"]
        assert bundle["customer"]["aggregates"]["events"] == 5


@pytest.mark.integration
@pytest.mark.parametrize("sealed", [False, True], ids=["plain", "sealed"])
def test_an_email_joins_records_across_partitions(cluster: Settings, sealed: bool) -> None:
    """A newsletter sign-up on the laptop (partition 0) and the same email given later on
    the phone (partition 1), both anonymous: one person, as an embedded engine merges
    them. Sealed, the directory keeps the email as the partitions' keyed digest."""
    if sealed:
        cluster = dataclasses.replace(cluster, encryption_keys=(MASTER_KEY,))
    worker = ClusterWorker(cluster, name="w-email")
    with TestClient(gateway_app(cluster)) as http, running(worker):
        _send(http, [_track("p1", "Product Viewed", anonymousId=PHONE),
                     _track("l1", "Product Viewed", anonymousId=LAPTOP),
                     {"type": "identify", "anonymousId": LAPTOP, "messageId": "l2",
                      "traits": {"email": "ann@example.org"}}])
        wait_until(lambda: worker.applied == 3, 30, "the worker fell short")
        _send(http, [{"type": "identify", "anonymousId": PHONE, "messageId": "p2",
                      "traits": {"email": "Ann@Example.org"}}])
        wait_until(lambda: worker.adopted == 1 and worker.moved_out == 1, 30,
                   "the phone's record did not move")
        homes = dict(_rows(cluster, 0, "SELECT key, part FROM {base}.homes"))
        assert homes[f"a:{PHONE}"] == homes[f"a:{LAPTOP}"] == 0
        emails = [k for k in homes if k.startswith("e")]
        assert len(emails) == 1 and homes[emails[0]] == 0
        assert ("@" in emails[0]) is not sealed
        for table in ("events", "profiles", "identities"):
            assert _rows(cluster, 1, f"SELECT count(*) FROM {{s}}.{table}") == [(0,)], table

        bundle = http.post("/v1/privacy/export", json={"identifier": "ann@example.org"},
                           headers=DPO).json()
        assert sorted(e["messageId"] for e in bundle["events"]) == ["l1", "l2", "p1", "p2"]
        assert bundle["other_records"] == []
        assert {f"a:{LAPTOP}", f"a:{PHONE}"} <= set(bundle["customer"]["identities"])

        answer = http.post("/v1/privacy/erase", json={"identifier": "ann@example.org"},
                           headers=DPO)
        assert answer.status_code == 202
        request = answer.json()["request"]
        wait_until(lambda: len(_rows(cluster, 0, "SELECT id FROM {base}.privacy_log WHERE "
                                     f"id LIKE '{request}:%'")) == 4, 30, "not erased")
        assert _rows(cluster, 0, "SELECT count(*) FROM {base}.homes") == [(0,)]
        for part in range(4):
            for table in ("events", "profiles", "identities", "forwards"):
                assert _rows(cluster, part, f"SELECT count(*) FROM {{s}}.{table}") == [(0,)]


@pytest.mark.integration
def test_a_shared_device_moves_its_key_only_and_not_too_often(cluster: Settings) -> None:
    """A device used by two signed-in people: the second sign-in moves the device's key to
    the second person (their records stay apart, as in embedded mode); a third within
    `identity_move_seconds` leaves it where it is."""
    cluster = dataclasses.replace(cluster, identity_move_seconds=0.0)
    worker = ClusterWorker(cluster, name="w-shared")
    with TestClient(gateway_app(cluster)) as http, running(worker):
        _send(http, [{"type": "identify", "userId": ANN, "anonymousId": PHONE,
                      "messageId": "a1"},
                     {"type": "identify", "userId": "bob-1", "anonymousId": "bob-phone-1",
                      "messageId": "b1"},
                     _track("l1", "Product Viewed", anonymousId=LAPTOP)])
        _send(http, [{"type": "identify", "userId": ANN, "anonymousId": LAPTOP,
                      "messageId": "l2"}])
        # every event applied before the worker stops, or the next worker applies the rest
        # and its counts below are off (partitions run apart: the move can end first)
        wait_until(lambda: worker.adopted == 1 and worker.applied == 4, 30,
                   "the laptop did not move to Ann")
    # a new gateway reads the laptop's home from the directory: Ann's partition
    cluster = dataclasses.replace(cluster, identity_move_seconds=3600.0)
    worker = ClusterWorker(cluster, name="w-shared-2")
    with TestClient(gateway_app(cluster)) as http, running(worker):
        _send(http, [{"type": "identify", "userId": "bob-1", "anonymousId": LAPTOP,
                      "messageId": "b2"}])
        wait_until(lambda: worker.kept_apart == 1 and worker.applied == 1, 30,
                   "the move was not refused")
        assert worker.moved_out == 0
        assert dict(_rows(cluster, 0, "SELECT key, part FROM {base}.homes"))[
            f"a:{LAPTOP}"] == 1
    cluster = dataclasses.replace(cluster, identity_move_seconds=0.0)
    worker = ClusterWorker(cluster, name="w-shared-3")
    with TestClient(gateway_app(cluster)) as http, running(worker):
        _send(http, [{"type": "identify", "userId": "bob-1", "anonymousId": LAPTOP,
                      "messageId": "b3"},
                     _track("l3", "Product Viewed", anonymousId=LAPTOP)])
        wait_until(lambda: worker.applied == 2 and "a:ann-laptop-0" in (
            worker.owned[1].forwards or {}), 30, "the laptop's key did not move to Bob")
        _send(http, [_track("l4", "Product Viewed", anonymousId=LAPTOP)])  # via the
        wait_until(lambda: worker.forwarded == 1 and worker.applied == 3, 30,  # old home
                   "the laptop's event was not forwarded")
        assert worker.moved_out == 0  # Ann's record stays: only the key moved
        homes = dict(_rows(cluster, 0, "SELECT key, part FROM {base}.homes"))
        assert homes[f"a:{LAPTOP}"] == homes["u:bob-1"] == 3
        bob = http.post("/v1/privacy/export", json={"identifier": "bob-1"},
                        headers=DPO).json()
        assert sorted(e["messageId"] for e in bob["events"]) == ["b1", "b2", "b3", "l3", "l4"]
        ann = http.post("/v1/privacy/export", json={"identifier": ANN}, headers=DPO).json()
        assert sorted(e["messageId"] for e in ann["events"]) == ["a1", "l1", "l2"]
