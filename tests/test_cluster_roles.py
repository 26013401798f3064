"""Cluster roles one at a time, on a nats-server of the test's own and the machine's
PostgreSQL: the gateway's HTTP API, a worker applying what it published, and two dispatchers
sharing the partitions' outboxes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import nats
import psycopg
import pytest
import redis
from fastapi.testclient import TestClient

from conftest import MASTER_KEY, NatsServer, postgres_schema, running, wait_until
from intently.channels import Message
from intently.cluster import (
    ClusterOutbox,
    ClusterWorker,
    Leases,
    partition_of,
    partition_schema,
)
from intently.config import Settings
from intently.decisions import save_offer_rules
from intently.engine import Dispatcher
from intently.events import as_event
from intently.roles import gateway_app
from intently.scenarios import ready_made
from intently.store import open_store
from intently.store.postgres import PostgresStore, split_url, with_schema
from intently.testing import Shop

pytestmark = pytest.mark.integration

KEY = "gw-key"
TILL = "till-key"


@pytest.fixture
def cluster(nats_server: NatsServer) -> Iterator[Settings]:
    with postgres_schema() as url:
        yield Settings(db=url, stream=nats_server.url, partitions=4, lease_seconds=3.0,
                       write_keys=(KEY,), stream_ack_seconds=1.0)


def test_the_gateway_answers_after_the_stream_holds_the_events(
        cluster: Settings, nats_server: NatsServer) -> None:
    with TestClient(gateway_app(cluster)) as http:
        batch = {"batch": [
            {"type": "track", "event": "Product Viewed", "anonymousId": "a1", "messageId": "m1"},
            {"type": "identify", "anonymousId": "a1", "userId": "u1", "messageId": "m2",
             "traits": {"email": "ann@x.com"}}]}
        first = http.post("/v1/batch", json=batch, auth=(KEY, ""))
        assert first.json() == {"success": True, "accepted": 2, "duplicates": 0}
        again = http.post("/v1/batch", json=batch, auth=(KEY, ""))
        assert again.json() == {"success": True, "accepted": 0, "duplicates": 2}
        bad = http.post("/v1/track", json={"event": "x", "anonymousId": "a", "timestamp": []},
                        auth=(KEY, ""))
        assert bad.status_code == 400 and "$.timestamp" in bad.text
        assert http.post("/v1/track", json={"event": "x", "anonymousId": "a"}).status_code == 401
        assert http.get("/health").json() == {"status": "ok", "role": "gateway"}
        assert http.get("/v1/profiles/u1").status_code == 404  # a gateway only ingests
        nats_server.kill()
        down = http.post("/v1/track", json={"event": "x", "anonymousId": "a", "messageId": "m3"},
                         auth=(KEY, ""))
        assert down.status_code == 503 and "did not acknowledge" in down.text
        assert http.get("/health").status_code == 503


class Recorder:
    """A channel that remembers what it was asked to send, and by which dispatcher."""

    def __init__(self, sent: Counter[str], lock: threading.Lock,
                 to: list[tuple[str, str]] | None = None) -> None:
        self.sent = sent
        self.lock = lock
        self.to = to if to is not None else []

    def send(self, message: Message) -> None:
        with self.lock:
            self.sent[message.id] += 1
            self.to.append((message.channel, message.to))

    def close(self) -> None:
        pass


@pytest.mark.parametrize("sealed", [False, True], ids=["clear", "sealed"])
def test_a_worker_applies_the_stream_and_two_dispatchers_send_each_message_once(
        cluster: Settings, sealed: bool) -> None:
    """`sealed`: the partitions keep messages sealed, and the dispatchers open them."""
    if sealed:
        cluster = dataclasses.replace(cluster, encryption_keys=(MASTER_KEY,))
    shared = PostgresStore(cluster.db, writer_lock=False)
    for scenario in ready_made().values():
        shared.save_scenario(scenario.name, json.dumps(scenario.to_json()).encode())
    shared.close()
    events = list(Shop(users=150, days=30, seed=2).events())
    with TestClient(gateway_app(cluster)) as http:
        for i in range(0, len(events), 100):
            r = http.post("/v1/batch", json={"batch": events[i : i + 100]}, auth=(KEY, ""))
            assert r.status_code == 200, r.text

    worker = ClusterWorker(cluster, name="w-test")
    with running(worker):
        wait_until(lambda: worker.applied == len(events), 60, "the worker fell short")
    conninfo, base = split_url(cluster.db)
    leases = Leases(conninfo, base, cluster.partitions, cluster.lease_seconds)
    assert all(row[1] == "" for row in leases.table())  # given back at the stop
    leases.close()
    counts = []
    for part in range(cluster.partitions):
        store = open_store(with_schema(cluster.db, partition_schema(base, part)),
                           readonly=True)
        counts.append(store.count_events())
        store.close()
    assert sum(counts) == len(events) and all(counts)

    sent: Counter[str] = Counter()
    lock = threading.Lock()
    to: list[tuple[str, str]] = []
    outboxes = [ClusterOutbox(cluster.db, cluster.partitions, cluster.encryption_keys)
                for _ in range(2)]
    dispatchers = [Dispatcher(o, {c: Recorder(sent, lock, to) for c in ("email", "sms", "push",
                                                                         "webhook", "log")},
                              owner=f"d{i}", max_age_s=10 * 365 * 86400.0)
                   for i, o in enumerate(outboxes)]
    runs = [threading.Thread(target=_drain, args=(d,)) for d in dispatchers]
    for run in runs:
        run.start()
    for run in runs:
        run.join(60)
    for outbox in outboxes:
        outbox.close()
    assert sent and max(sent.values()) == 1
    assert sum(d.counts["delivered"] for d in dispatchers) == len(sent)
    assert all(d.counts["delivered"] for d in dispatchers)  # both took a share
    emails = [address for channel, address in to if channel == "email"]
    assert emails and all("@" in a for a in emails)  # opened, when sealed
    with psycopg.connect(conninfo) as db:
        readable = sum(_count(db, f"SELECT count(*) FROM {partition_schema(base, p)}.outbox "
                              "WHERE position('@example.com'::bytea in body) > 0")
                       for p in range(cluster.partitions))
    assert (readable == 0) == sealed


def _count(db: Any, query: str) -> int:
    row = db.execute(query).fetchone()
    return int(row[0]) if row else 0


def _drain(dispatcher: Dispatcher) -> None:
    while dispatcher.run_once(limit=5):
        pass



def test_a_gateway_decides_from_the_records_the_worker_put_in_redis(cluster: Settings) -> None:
    settings = dataclasses.replace(cluster, cache="redis://127.0.0.1:6379/0", read_keys=(TILL,))
    base = split_url(settings.db)[1]
    shared = PostgresStore(settings.db, writer_lock=False)
    save_offer_rules(shared, [{"when": ["pasta"], "offer": "parmesan", "audience": "orders >= 1"}])
    shared.close()
    buyer = [
        {"type": "identify", "anonymousId": "d-1", "userId": "c-7", "messageId": "k1",
         "traits": {"email": "Ann@Example.com"}},
        {"type": "track", "event": "Order Completed", "userId": "c-7", "anonymousId": "d-1",
         "messageId": "k2", "properties": {"order_id": "o-1", "revenue": 30.0}}]
    cache = redis.Redis.from_url(settings.cache or "")
    try:
        with TestClient(gateway_app(settings)) as http:
            assert http.post("/v1/batch", json={"batch": buyer}, auth=(KEY, "")).status_code == 200
            worker = ClusterWorker(settings, name="w-cache")
            with running(worker):
                wait_until(lambda: worker.applied == 2, 30, "the worker fell short")
            receipt = {"items": [{"name": "Pasta", "price": 2.5}], "userId": "c-7"}
            assert http.post("/v1/decide", json=receipt, auth=(KEY, "")).status_code == 403
            answer = http.post("/v1/decide", json=receipt, auth=(TILL, "")).json()
            assert [o["offer"] for o in answer["offers"]] == ["parmesan"]
            record = answer["customer"]
            by_email = http.post("/v1/decide", json={**receipt, "userId": "ann@example.com"},
                                 auth=(TILL, "")).json()
            assert by_email["customer"] == record  # any identifier finds the record
            stranger = http.post("/v1/decide", json={**receipt, "userId": "nobody"},
                                 auth=(TILL, "")).json()
            assert stranger["offers"] == [] and stranger["customer"] == "nobody"
            # the daily offer cap (10) is counted across gateways, in Redis: 2 offers so far
            with TestClient(gateway_app(settings)) as other:
                answers = [(other if i % 2 else http).post(
                    "/v1/decide", json=receipt, auth=(TILL, "")).json() for i in range(9)]
            assert [len(a["offers"]) for a in answers] == [1] * 8 + [0]
            assert answers[-1]["reason"] == "daily offer cap reached"
            cache.flushdb()  # never the source of truth: decided as unknown, no error
            flushed = http.post("/v1/decide", json=receipt, auth=(TILL, "")).json()
            assert flushed["offers"] == [] and flushed["customer"] == "c-7"
            assert http.post("/v1/decide", json={"items": []},
                             auth=(KEY, "")).status_code == 400
    finally:
        for key in cache.scan_iter(f"{base}:*"):
            cache.delete(key)
        cache.close()


def test_an_event_a_worker_refuses_does_not_stop_its_partition(cluster: Settings) -> None:
    """A worker whose limits are stricter than the gateway's (settings that differ between
    machines) sets that event aside in the partition's log, with its error, and applies the
    rest of the batch; so does a message on the partition's subject that no gateway wrote.
    Nothing accepted is lost, and the partition goes on."""
    big = {"type": "track", "event": "Product Viewed", "anonymousId": "a1", "messageId": "big",
           "properties": {"note": "x" * 2000}}
    small = [{"type": "track", "event": "Product Viewed", "anonymousId": "a1",
              "messageId": f"s{i}"} for i in range(2)]
    with TestClient(gateway_app(cluster)) as http:
        r = http.post("/v1/batch", json={"batch": [small[0], big, small[1]]}, auth=(KEY, ""))
        assert r.json()["accepted"] == 3
    asyncio.run(_publish_raw(cluster, partition_of(as_event(small[0]), cluster.partitions),
                             b"not json", "stray-1"))
    worker = ClusterWorker(dataclasses.replace(cluster, max_event_bytes=1000), name="w-strict")
    with running(worker):
        wait_until(lambda: worker.applied == 2 and worker.refused == 2, 30,
                   "the partition stopped at the refused event")
    conninfo, base = split_url(cluster.db)
    part = partition_of(as_event(small[0]), cluster.partitions)
    store = open_store(with_schema(cluster.db, partition_schema(base, part)), readonly=True)
    aside = sorted(store.set_aside_events(), key=lambda a: a.seq)
    store.close()
    assert [a.error.split(":")[0] for a in aside] == ["refused by this worker's limits",
                                                     "unreadable stream message"]
    assert b'"messageId":"big"' in aside[0].payload.replace(b" ", b"")
    assert aside[1].payload == b"not json"
    leases = Leases(conninfo, base, cluster.partitions, cluster.lease_seconds)
    try:  # the partition's position is past both: they are not read again
        assert next(r for r in leases.table() if r[0] == part)[3] >= 4
    finally:
        leases.close()


async def _publish_raw(settings: Settings, part: int, data: bytes, mid: str) -> None:
    """A message on a partition's subject that no gateway wrote (the stream exists: a
    gateway made it)."""
    nc = await nats.connect(settings.stream or "")
    try:
        await nc.jetstream().publish(f"{settings.stream_subject}.{part}", data,
                                     headers={"Nats-Msg-Id": mid})
    finally:
        await nc.close()


def test_roles_started_before_nats_wait_for_it(cluster: Settings,
                                               nats_server: NatsServer) -> None:
    """A gateway answers 503 (clients keep their events) and a worker waits, until NATS is
    reachable; then both work, with no restart."""
    nats_server.kill()
    worker = ClusterWorker(cluster, name="w-early")
    with running(worker), TestClient(gateway_app(cluster)) as http:
        event = {"event": "Product Viewed", "anonymousId": "a1", "messageId": "e1"}
        assert http.post("/v1/track", json=event, auth=(KEY, "")).status_code == 503
        assert http.get("/health").status_code == 503
        nats_server.start()
        wait_until(lambda: http.get("/health").status_code == 200, 30,
                   "the gateway never connected")
        assert http.post("/v1/track", json=event, auth=(KEY, "")).status_code == 200
        wait_until(lambda: worker.applied == 1, 30, "the worker never started")
