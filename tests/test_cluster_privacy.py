"""Erasure in cluster mode: a gateway publishes the request to every partition, each owner
erases what it holds in order with its events, and no table of any partition (nor the
decision cache) names the person afterwards; their next event is dropped and counted."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import MASTER_KEY, NatsServer, postgres_schema, running, wait_until
from intently.cli import app
from intently.cluster import ClusterWorker, partition_schema
from intently.config import Settings
from intently.roles import gateway_app
from intently.store.postgres import split_url

pytestmark = pytest.mark.integration

KEY = "gw-key"
DPO = {"Authorization": "Bearer dpo-key"}
ANN = ["ann-4411", "ann-phone-77", "ann-laptop-0", "ann.berg@example.org"]
"""Her user id, two devices (whose journeys would start in partitions 1 and 0 of 4: CRC-32 of
the anonymous id; signed in, both live in her home partition), email."""


@pytest.fixture
def cluster(nats_server: NatsServer) -> Iterator[Settings]:
    with postgres_schema() as url:
        yield Settings(db=url, stream=nats_server.url, partitions=4, lease_seconds=3.0,
                       write_keys=(KEY,), privacy_keys=("dpo-key",), stream_ack_seconds=1.0,
                       cache="redis://127.0.0.1:6379/0")


def _mentions(settings: Settings, values: list[str]) -> dict[str, int]:
    """Rows of any table in any partition's schema with one of `values` in any column: as
    text, or as bytes inside a binary column (event payloads, records, message bodies)."""
    conninfo, base = split_url(settings.db)
    found: dict[str, int] = {}
    with psycopg.connect(conninfo, autocommit=True) as db:
        for part in range(settings.partitions):
            schema = partition_schema(base, part)
            columns: dict[str, list[tuple[str, str]]] = {}
            for table, column, kind in db.execute(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = %s", (schema,)):
                columns.setdefault(table, []).append((column, kind))
            for table, cols in columns.items():
                for value in values:
                    tests = [f"position(%(b)s::bytea in {c}) > 0" if kind == "bytea"
                             else f"position(%(t)s in {c}::text) > 0" for c, kind in cols]
                    row = db.execute(f"SELECT count(*) FROM {schema}.{table} WHERE "
                                     + " OR ".join(tests),
                                     {"b": value.encode(), "t": value}).fetchone()
                    if row and row[0]:
                        found[f"{schema}.{table}:{value}"] = row[0]
    return found


@pytest.mark.parametrize("sealed", [False, True], ids=["clear", "sealed"])
def test_an_erasure_reaches_every_partition_and_the_cache(cluster: Settings, sealed: bool
                                                          ) -> None:
    """`sealed`: the partitions keep personal data sealed at rest (each schema has its own
    data keys under the same master key)."""
    if sealed:
        cluster = dataclasses.replace(cluster, encryption_keys=(MASTER_KEY,))
    ann_events = [  # two devices, one home
        {"type": "identify", "userId": ANN[0], "anonymousId": ANN[1], "messageId": "a1",
         "traits": {"email": ANN[3], "name": "Ann Berg"}},
        {"type": "track", "event": "Product Viewed", "anonymousId": ANN[2], "userId": ANN[0],
         "messageId": "a2", "properties": {"product_id": "p1"}},
        {"type": "track", "event": "Product Added", "anonymousId": ANN[1], "messageId": "a3",
         "properties": {"product_id": "p1", "price": 10}}]
    others = [{"type": "track", "event": "Product Viewed", "anonymousId": f"dev-{i}",
               "messageId": f"o{i}"} for i in range(20)]
    cache = redis.Redis.from_url(cluster.cache or "")
    with TestClient(gateway_app(cluster)) as http:
        assert http.post("/v1/batch", json={"batch": ann_events + others},
                         auth=(KEY, "")).status_code == 200
        worker = ClusterWorker(cluster, name="w-privacy")
        with running(worker):
            wait_until(lambda: worker.applied == 23, 30, "the worker fell short")
            assert _mentions(cluster, ANN)  # the search finds what is there
            if sealed:  # her email and name are in no partition: only user and device ids
                assert _mentions(cluster, [ANN[3], "Ann Berg"]) == {}
                assert _mentions(cluster, ANN[:3])
            prefix = f"{split_url(cluster.db)[1]}:"
            assert cache.get(f"{prefix}id:u:{ANN[0]}") is not None

            # her export gathers both partitions' records (opened, when sealed)
            assert http.post("/v1/privacy/export", json={"identifier": ANN[3]},
                             auth=(KEY, "")).status_code == 401
            answer = http.post("/v1/privacy/export", json={"identifier": ANN[3]}, headers=DPO)
            assert answer.status_code == 200, answer.text
            bundle = answer.json()
            assert sorted(e["messageId"] for e in bundle["events"]) == ["a1", "a2", "a3"]
            assert bundle["customer"]["traits"]["email"] == ANN[3]
            assert bundle["other_records"] == []  # one record, in her home partition
            assert http.post("/v1/privacy/export", json={"identifier": "nobody"},
                             headers=DPO).status_code == 404
            env = {"INTENTLY_DB": cluster.db, "INTENTLY_STREAM": cluster.stream or "",
                   "INTENTLY_PARTITIONS": str(cluster.partitions),
                   "INTENTLY_ENCRYPTION_KEYS": ",".join(cluster.encryption_keys)}
            cli = CliRunner().invoke(app, ["privacy", "export", ANN[0], "--actor", "dpo"],
                                     env=env)
            assert cli.exit_code == 0, cli.output
            assert len(json.loads(cli.stdout)["events"]) == 3
            rows = http.get("/v1/privacy/log", headers=DPO).json()["requests"]
            assert len(rows) == 3 * 4  # each export journaled by every partition's owner
            assert {r["verb"] for r in rows} == {"export"}
            cli = CliRunner().invoke(app, ["privacy", "log", "--json"], env=env)
            assert len(json.loads(cli.stdout)["requests"]) == len(rows)
            assert ANN[3] not in json.dumps(rows)

            assert http.post("/v1/privacy/erase", json={"identifier": ANN[0]},
                             auth=(KEY, "")).status_code == 401
            answer = http.post("/v1/privacy/erase", json={"identifier": ANN[0]}, headers=DPO)
            assert answer.status_code == 202 and answer.json()["partitions"] == 4
            request = answer.json()["request"]

            def journaled() -> bool:
                with psycopg.connect(split_url(cluster.db)[0]) as db:
                    rows = db.execute(f"SELECT id FROM {split_url(cluster.db)[1]}.privacy_log "
                                      "WHERE id LIKE %s", (request + ":%",)).fetchall()
                return len(rows) == 4

            wait_until(journaled, 30, "not every partition applied the erasure")
            assert _mentions(cluster, ANN) == {}
            with psycopg.connect(split_url(cluster.db)[0]) as db:  # nor the directory of homes
                assert db.execute(f"SELECT key FROM {split_url(cluster.db)[1]}.homes WHERE "
                                  "key LIKE '%ann%'").fetchall() == []
            assert cache.get(f"{prefix}id:u:{ANN[0]}") is None
            assert cache.get(f"{prefix}id:a:{ANN[1]}") is None

            later = [{"type": "track", "event": "Product Viewed", "anonymousId": ANN[1],
                      "messageId": "a4"},
                     {"type": "track", "event": "Product Viewed", "anonymousId": "dev-x",
                      "messageId": "o-x"}]
            applied = worker.applied
            assert http.post("/v1/batch", json={"batch": later},
                             auth=(KEY, "")).status_code == 200
            wait_until(lambda: worker.applied == applied + 1 and sum(
                own.engine.privacy.suppressed_events for own in worker.owned.values()) == 1,
                30, "the suppressed event was not dropped")
        assert _mentions(cluster, ANN) == {}
    cache.close()


def test_privacy_requests_need_a_privacy_or_admin_key(cluster: Settings) -> None:
    settings = dataclasses.replace(cluster, cache=None)
    with TestClient(gateway_app(settings)) as http:
        for verb in ("erase", "suppress", "unsuppress"):
            assert http.post(f"/v1/privacy/{verb}", json={"identifier": "x"}).status_code == 401
            r = http.post(f"/v1/privacy/{verb}", json={"identifier": ""}, headers=DPO)
            assert r.status_code in (400, 422) and "identifier" in r.text
