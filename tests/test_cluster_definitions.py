"""Segments and scenarios changed while a cluster runs: defined on a gateway, saved and audited
once, applied by every partition's owner in order with its events. A new segment evaluates
every record already there; a removed one empties; a new scenario acts on the next events."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import NatsServer, postgres_schema, running, wait_until
from intently.cli import app
from intently.cluster import ClusterWorker, partition_schema
from intently.config import Settings
from intently.profiles import decode_profile
from intently.roles import gateway_app
from intently.store import open_store
from intently.store.postgres import split_url, with_schema
from intently.testing import Shop

pytestmark = pytest.mark.integration

WRITE = "gw-key"
MARKETER = {"Authorization": "Bearer mkt"}


@pytest.fixture
def cluster(nats_server: NatsServer) -> Iterator[Settings]:
    with postgres_schema() as url:
        yield Settings(db=url, stream=nats_server.url, partitions=4, lease_seconds=3.0,
                       write_keys=(WRITE,), marketer_keys=("mkt",), viewer_keys=("view",),
                       stream_ack_seconds=1.0)


def _partition_stores(settings: Settings) -> Iterator[object]:
    base = split_url(settings.db)[1]
    for part in range(settings.partitions):
        store = open_store(with_schema(settings.db, partition_schema(base, part)),
                           readonly=True)
        try:
            yield store
        finally:
            store.close()


def _members(settings: Settings, segment: str) -> set[str]:
    return {m.profile_id for store in _partition_stores(settings)
            for m in store.segment_members(segment)}  # type: ignore[attr-defined]


def _buyers(settings: Settings) -> set[str]:
    """The records with an order, as the partitions' tables hold them."""
    found = set()
    for store in _partition_stores(settings):
        ids = store.profile_ids(100_000)  # type: ignore[attr-defined]
        for pid, body in store.load_profiles(ids).items():  # type: ignore[attr-defined]
            if decode_profile(body).orders >= 1:
                found.add(pid)
    return found


def test_definitions_change_in_every_partition_while_the_cluster_runs(
        cluster: Settings) -> None:
    events = list(Shop(users=60, days=10, seed=3).events())
    worker = ClusterWorker(cluster, name="w-defs")
    with TestClient(gateway_app(cluster)) as http, running(worker):
        for i in range(0, len(events), 100):
            assert http.post("/v1/batch", json={"batch": events[i:i + 100]},
                             auth=(WRITE, "")).status_code == 200
        wait_until(lambda: worker.applied == len(events), 60, "the worker fell short")

        rule = {"text": "orders >= 1", "description": "bought once or more"}
        assert http.put("/v1/segments/big", json=rule).status_code == 401
        assert http.put("/v1/segments/big", json=rule, auth=(WRITE, "")).status_code == 403
        assert http.put("/v1/segments/big", json=rule,
                        headers={"Authorization": "Bearer view"}).status_code == 403
        bad = http.put("/v1/segments/big", json={"text": "revenue >="}, headers=MARKETER)
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_rule"
        answer = http.put("/v1/segments/big", json=rule, headers=MARKETER)
        assert answer.status_code == 202 and answer.json()["partitions"] == 4
        # every record already there is evaluated, in every partition (each owner writes
        # its records with the change: the tables then hold what it holds)
        wait_until(lambda: len(_members(cluster, "big")) >= 3
                   and _members(cluster, "big") == _buyers(cluster), 30, "members differ")

        # a scenario defined now acts on the next events
        welcome = {"trigger": {"event": "Signed Up"}, "holdout": 0,
                   "policies": {"quiet_hours": None},
                   "steps": [{"send": {"channel": "email", "subject": "Hello",
                                       "body": "Welcome, {{ customer.first_name }}"}}]}
        assert http.put("/v1/scenarios/welcome", json=welcome,
                        headers=MARKETER).status_code == 202
        newcomer = [{"type": "identify", "userId": "new-1", "messageId": "n1",
                     "traits": {"email": "new@example.org", "first_name": "Nia",
                                "consents": {"email": True}}},
                    {"type": "track", "event": "Signed Up", "userId": "new-1",
                     "messageId": "n2"}]
        assert http.post("/v1/batch", json={"batch": newcomer},
                         auth=(WRITE, "")).status_code == 200

        def welcomed() -> bool:
            return any(m.scenario == "welcome" and m.profile_id == "new-1"
                       for store in _partition_stores(cluster)
                       for m in store.outbox(1000))  # type: ignore[attr-defined]

        wait_until(welcomed, 30, "the new scenario did not act")

        assert http.delete("/v1/segments/big", headers=MARKETER).status_code == 202
        wait_until(lambda: _members(cluster, "big") == set(), 30, "members stayed")

        # the CLI against a cluster (its settings name the stream) does the same
        env = {"INTENTLY_DB": cluster.db, "INTENTLY_STREAM": cluster.stream or "",
               "INTENTLY_PARTITIONS": str(cluster.partitions)}
        added = CliRunner().invoke(app, ["segments", "add", "buyers", "orders >= 1"], env=env)
        assert added.exit_code == 0 and "sent to 4 partitions" in added.output, added.output
        wait_until(lambda: len(_members(cluster, "buyers")) >= 3
                   and _members(cluster, "buyers") == _buyers(cluster), 30, "CLI: members")
        removed = CliRunner().invoke(app, ["segments", "remove", "buyers"], env=env)
        assert removed.exit_code == 0, removed.output
        wait_until(lambda: _members(cluster, "buyers") == set(), 30, "CLI: members stayed")

    conninfo, base = split_url(cluster.db)
    with psycopg.connect(conninfo) as db:
        rows = db.execute(f"SELECT verb, subject, actor, detail FROM {base}.privacy_log "
                          "ORDER BY at").fetchall()
    assert [(v, s) for v, s, _, _ in rows] == [
        ("segment.put", "big"), ("scenario.put", "welcome"), ("segment.delete", "big"),
        ("segment.put", "buyers"), ("segment.delete", "buyers")]
    assert all(a.startswith("marketer-key:") for _, _, a, _ in rows[:3])
    assert all(a.startswith("cli:") for _, _, a, _ in rows[3:])
    assert json.loads(rows[2][3])["before"]["description"] == "bought once or more"
