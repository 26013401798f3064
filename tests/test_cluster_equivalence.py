"""Cluster mode ends as the embedded mode does: the same events through a gateway, NATS and a
partitioned worker on PostgreSQL give, customer by customer, the same golden records (but for
their latest log position, which each partition's log counts itself), scenario messages,
journal and segment members as one embedded engine (built-in segments and the six ready-made
scenarios on, timers fired at the end)."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest

from conftest import NatsServer, postgres_schema, running, wait_until
from intently import Engine, ManualClock, Profile
from intently.cluster import ClusterWorker, Gateway, partition_schema
from intently.config import Settings
from intently.events import Event, as_event
from intently.profiles import decode_profile, encode_profile
from intently.scenarios import ready_made
from intently.store import MemoryStore, open_store
from intently.store.postgres import PostgresStore, split_url, with_schema
from intently.testing import Shop

pytestmark = pytest.mark.integration

DAY = 86400.0
PARTITIONS = 4


def test_the_cluster_ends_as_the_embedded_engine(nats_server: NatsServer) -> None:
    shop = Shop(users=150, days=20, seed=8)
    before = ManualClock(shop.start - DAY)  # no timer is due before the events
    end = shop.start + 60 * DAY
    with postgres_schema() as url:
        settings = Settings(db=url, stream=nats_server.url, partitions=PARTITIONS,
                            builtin_segments=True, batch_size=50)
        shared = PostgresStore(url, writer_lock=False)
        for scenario in ready_made().values():
            shared.save_scenario(scenario.name, json.dumps(scenario.to_json()).encode())
        shared.close()
        published = asyncio.run(_publish(settings, list(shop.events())))

        worker = ClusterWorker(settings, name="w-eq", clock=before)
        with running(worker) as loop:
            wait_until(lambda: worker.applied == len(published), 60, "the worker fell short")

            async def fire_timers() -> None:  # on the worker's loop: engines never overlap
                for own in worker.owned.values():
                    own.engine.tick(end)
                    own.engine.checkpoint()

            asyncio.run_coroutine_threadsafe(fire_timers(), loop).result(60)
        got = _cluster_outcome(url)

    reference = Engine(MemoryStore(), clock=before,
                       settings=Settings(builtin_segments=True, batch_size=50))
    for scenario in ready_made().values():
        reference.put_scenario(scenario)
    reference.process_many(published)  # filed as the gateway filed them
    reference.tick(end)
    reference.checkpoint()
    want = _embedded_outcome(reference)

    records, messages, journal, sizes = got
    assert len(want[0]) > 100 and len(want[1]) > 10 and sum(want[3].values()) > 0
    assert records.keys() == want[0].keys()
    assert [pid for pid in records if records[pid] != want[0][pid]] == []
    assert (messages, journal, sizes) == want[1:]


async def _publish(settings: Settings, raw: list[dict[str, Any]]) -> list[Event]:
    """Publish through a gateway; the events as it filed them (receive and filing times)."""
    gateway = Gateway(settings)
    await gateway.start()
    events = [as_event(ev) for ev in raw]
    try:
        for i in range(0, len(events), 100):
            await gateway.submit(events[i : i + 100])
    finally:
        await gateway.close()
    return [copy.copy(ev) for ev in events]


Outcome = tuple[dict[str, bytes], list[str], list[str], dict[str, int]]


def _comparable(profile: Profile) -> bytes:
    """A record's bytes but for its latest log position (a partition's log counts its own) and
    its newest journal row (which only SQLite numbers)."""
    profile.last_seq = 0.0
    profile.journal_head = 0.0
    return encode_profile(profile)


def _cluster_outcome(url: str) -> Outcome:
    records: dict[str, bytes] = {}
    messages: list[str] = []
    journal: list[str] = []
    sizes: dict[str, int] = {}
    base = split_url(url)[1]
    for part in range(PARTITIONS):
        store = open_store(with_schema(url, partition_schema(base, part)), readonly=True)
        for pid in store.profile_ids(limit=100_000):
            records[pid] = _comparable(decode_profile(store.load_profile(pid) or b""))
        messages += [m.id for m in store.outbox(100_000)]
        journal += [f"{j.profile_id}|{j.id}" for j in store.journal(limit=1_000_000)]
        for segment, n in store.segment_sizes().items():
            sizes[segment] = sizes.get(segment, 0) + n
        store.close()
    return records, sorted(messages), sorted(journal), sizes


def _embedded_outcome(engine: Engine) -> Outcome:
    store = engine.store
    records = {pid: _comparable(decode_profile(encode_profile(engine.profile(pid))))
               for pid in store.profile_ids(limit=100_000)}
    rm = engine.read_models
    return (records, sorted(m.id for m in rm.outbox(100_000)),
            sorted(f"{j.profile_id}|{j.id}" for j in rm.journal(limit=1_000_000)),
            rm.segment_sizes())
