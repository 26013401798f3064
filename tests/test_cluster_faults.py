"""Cluster mode under faults, on one machine: a nats-server of the test's own (so it can be
killed), the PostgreSQL of the machine, three worker processes on 16 partitions, and events
published through the gateway (some resent with the same message ids). A hundred customers
also use a second device that signs in after browsing: its record moves to the customer's
home partition while the faults happen.

Workers are killed with SIGKILL just before and just after a commit, one is stopped with
SIGSTOP past its lease and resumed (its commits must be refused on the epoch), nats-server is
killed and restarted, PostgreSQL is restarted, a worker is added and one removed. Then, for
every customer key, the events applied equal the events acknowledged, in order (as a set for a
device that moved: its events are logged where it moved to in the order they arrived there),
with no gap and no duplicate, each in its customer's home partition; every partition's stream
position reaches the end of its subject; each epoch of each partition had one owner; every
outbox message exists once."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from nats.js.errors import NotFoundError

from conftest import NatsServer, postgres_schema, wait_until
from intently import StoreError
from intently.cluster import STREAM, Gateway, Leases, partition_schema
from intently.config import Settings
from intently.events import as_event
from intently.scenarios import ready_made
from intently.store.postgres import PostgresStore, split_url
from intently.testing import Shop

pytestmark = [pytest.mark.crash, pytest.mark.integration]

PARTITIONS = 16
LEASE_S = 3.0
HERE = Path(__file__).parent


def _after(seconds: float, then: Callable[[], None]) -> None:
    time.sleep(seconds)
    then()


class Workers:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, crash_at: str = "") -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen([sys.executable, str(HERE / "cluster_worker.py")],
                                env={**self.env, "CRASH_AT": crash_at}, stdout=log,
                                stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


class Client:
    """Sends batches through a gateway in order, retrying a refused batch until it is
    acknowledged (as the SDKs do); remembers each message id's first acknowledgement."""

    def __init__(self, settings: Settings) -> None:
        self.gateway = Gateway(settings, "test-gateway")
        self.acked: dict[str, list[str]] = defaultdict(list)  # key -> message ids, in order
        self.seen: set[str] = set()
        self.refused = 0
        self.duplicates = 0

    async def send(self, batch: list[dict[str, Any]], deadline_s: float = 60) -> None:
        deadline = time.monotonic() + deadline_s
        while True:
            events = [as_event(dict(ev)) for ev in batch]
            try:
                result = await self.gateway.submit(events)
                break
            except StoreError:
                self.refused += 1
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        self.duplicates += result.duplicates
        for ev in events:
            mid = ev.message_id or ""
            if mid not in self.seen:
                self.seen.add(mid)
                self.acked[_key(ev)].append(mid)


def _key(ev: Any) -> str:
    return str(ev.anonymous_id if ev.anonymous_id not in (None, "") else ev.user_id)


def _restart_postgresql() -> bool:
    """Restart the machine's PostgreSQL (fast shutdown: every connection is cut)."""
    if os.geteuid() != 0 or not shutil.which("pg_ctlcluster") or not Path(
            "/etc/postgresql").is_dir():
        return False
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart",
                    "-m", "fast"], check=True, timeout=60)
    wait_until(lambda: subprocess.run(["pg_isready", "-q"]).returncode == 0, 30,
          "PostgreSQL did not come back")
    return True


def test_no_acknowledged_event_is_lost_or_doubled_through_worker_and_server_faults(
        tmp_path: Path, nats_server: NatsServer) -> None:
    with postgres_schema() as url:
        _run_faults(tmp_path, nats_server, url)


def _run_faults(tmp_path: Path, nats: NatsServer, url: str) -> None:
    settings = Settings(db=url, stream=nats.url, partitions=PARTITIONS, lease_seconds=LEASE_S,
                        stream_ack_seconds=2.0)
    shared = PostgresStore(url, writer_lock=False)  # the definitions every partition runs
    for scenario in ready_made().values():
        shared.save_scenario(scenario.name, json.dumps(scenario.to_json()).encode())
    shared.close()
    events = _with_second_devices(list(Shop(users=700, days=45, seed=11).events()))
    assert len(events) > 10_000
    batches = [events[i : i + 40] for i in range(0, len(events), 40)]
    resent = batches[5::9]  # sent twice: the second time is acknowledged as duplicates
    env = {**os.environ, "INTENTLY_DB": url, "INTENTLY_STREAM": nats.url,
           "INTENTLY_PARTITIONS": str(PARTITIONS), "INTENTLY_LEASE_SECONDS": str(LEASE_S),
           "INTENTLY_LOG_LEVEL": "info"}
    workers = Workers(env, tmp_path)
    client = Client(settings)
    conninfo, base = split_url(url)

    async def drive() -> dict[str, Any]:
        await client.gateway.start()
        todo = deque(batches)

        async def send(n: int) -> None:
            for _ in range(min(n, len(todo))):
                await client.send(todo.popleft())

        async def send_until(done: Callable[[], bool], what: str) -> None:
            deadline = time.monotonic() + 60
            while not done():
                assert time.monotonic() < deadline, what
                await send(1)
                await asyncio.sleep(0.1)

        tenth = len(batches) // 10
        for name in ("w1", "w2", "w3"):
            workers.start(name)
        await send_until(lambda: len(_owners(conninfo, base)) == 3, "3 workers never shared")
        await send(tenth)
        for name, crash_at in (("w4", "before:3"), ("w5", "after:3")):
            proc = workers.start(name, crash_at=crash_at)  # dies just before/after a commit
            await send_until(lambda p=proc: p.poll() is not None, f"{name} never crashed")
        os.kill(workers.procs["w1"].pid, signal.SIGKILL)
        await send(tenth)
        victim = await _stop_past_lease(workers, client, todo, conninfo, base)
        await send(tenth)
        assert len(todo) > tenth, "too few events left for the faults below"
        nats.kill()  # down longer than a gateway waits for an acknowledgement: refusals
        outage = asyncio.create_task(asyncio.to_thread(_after, 3.0, nats.start))
        await send(tenth)
        await outage
        proc = workers.start("w6")  # a worker joins, takes its share, and leaves
        await send_until(lambda p=proc: any(o.endswith(f"-{p.pid}")
                                            for o in _owners(conninfo, base)), "w6 took none")
        proc.terminate()
        await send(tenth)
        restarted = _restart_postgresql()
        await send(len(batches))
        for batch in resent:
            await client.send(batch)
        assert not todo
        last = await _last_positions(client.gateway)
        await client.gateway.close()
        return {"last": last, "pg_restarted": restarted, "stopped": victim}

    try:
        outcome = asyncio.run(drive())
        assert len(outcome["last"]) == PARTITIONS  # every subject's end is known
        leases = Leases(conninfo, base, PARTITIONS, LEASE_S)
        try:
            wait_until(lambda: all(row[3] >= outcome["last"].get(row[0], 0)
                              for row in leases.table()), 90,
                  "partitions did not reach the end of the stream")
            history = leases.history()
        finally:
            leases.close()
    finally:
        workers.stop_all()
    _check_applied(conninfo, base, client)
    _check_outbox(conninfo, base)
    # each epoch of each partition had one owner (the history's key), epochs count up from 1
    epochs: dict[int, list[int]] = defaultdict(list)
    for part, epoch, _owner, _seq in history:
        epochs[part].append(epoch)
    assert sorted(epochs) == list(range(PARTITIONS))
    assert all(e == list(range(1, len(e) + 1)) for e in epochs.values())
    assert sum(len(e) for e in epochs.values()) > PARTITIONS  # partitions did move
    stopped = workers.log(outcome["stopped"])
    assert "commit refused" in stopped or "lease lost" in stopped
    assert workers.procs["w4"].returncode == -signal.SIGKILL
    assert workers.procs["w5"].returncode == -signal.SIGKILL
    assert client.duplicates >= sum(len(b) for b in resent)
    assert client.refused > 0  # the gateway refused while nats-server was down
    assert outcome["pg_restarted"] or os.geteuid() != 0


def _with_second_devices(events: list[dict[str, Any]], users: int = 100
                         ) -> list[dict[str, Any]]:
    """`events` with a second device for the first `users` customers: two anonymous views
    some time after the customer signed up, a sign-in on it later, then two more views."""
    first: dict[str, int] = {}
    for i, ev in enumerate(events):
        if ev.get("userId") and ev["userId"] not in first:
            first[ev["userId"]] = i
    inserts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for uid, at in list(first.items())[:users]:
        device = f"tab-{uid}"
        for n, (offset, ids) in enumerate(((200, {}), (230, {}), (500, {"userId": uid}),
                                           (520, {}), (900, {}))):
            where = min(at + offset, len(events) - 1)
            inserts[where].append({
                "type": "identify" if ids else "track", "event": "Product Viewed",
                "messageId": f"{device}-{n}", "anonymousId": device,
                "timestamp": events[where]["timestamp"], **ids})
    out: list[dict[str, Any]] = []
    for i, ev in enumerate(events):
        out.append(ev)
        out += inserts.get(i, [])
    return out


def _owners(conninfo: str, base: str) -> set[str]:
    """The workers holding a partition now."""
    try:
        leases = Leases(conninfo, base, PARTITIONS, LEASE_S)
    except psycopg.Error:
        return set()
    try:
        return {row[1] for row in leases.table() if row[1] and row[4] > 0}
    except psycopg.Error:  # not created yet
        return set()
    finally:
        leases.close()


async def _stop_past_lease(workers: Workers, client: Client, todo: deque[list[Any]],
                           conninfo: str, base: str) -> str:
    """SIGSTOP the worker holding most partitions, with events for them in flight, let its
    leases run out and others take them, then resume it: whatever it commits must be
    refused. Returns its name."""
    leases = Leases(conninfo, base, PARTITIONS, LEASE_S)
    alive = {f"-{p.pid}": n for n, p in workers.procs.items() if p.poll() is None}
    owners = [alive[f"-{row[1].rsplit('-', 1)[1]}"] for row in leases.table()
              if row[4] > 0 and row[1] and f"-{row[1].rsplit('-', 1)[1]}" in alive]
    leases.close()
    name = max(set(owners), key=owners.count)
    proc = workers.procs[name]
    proc.send_signal(signal.SIGSTOP)
    for _ in range(10):
        await client.send(todo.popleft())
    await asyncio.sleep(LEASE_S * 2.5)
    proc.send_signal(signal.SIGCONT)
    for _ in range(10):
        await client.send(todo.popleft())
    return name


async def _last_positions(gateway: Gateway) -> dict[int, int]:
    """The last stream position of each partition's subject."""
    js = gateway._js
    assert js is not None
    last: dict[int, int] = {}
    for part in range(PARTITIONS):
        for attempt in range(50):  # the connection may still be settling after the faults
            try:
                msg = await js.get_last_msg(STREAM, f"intently.events.{part}")
                last[part] = int(msg.seq)
                break
            except NotFoundError:  # no message on this subject
                break
            except Exception:
                if attempt == 49:
                    raise
                await asyncio.sleep(0.2)
    return last


def _check_applied(conninfo: str, base: str, client: Client) -> None:
    applied: dict[str, list[str]] = defaultdict(list)
    with psycopg.connect(conninfo) as db:
        homes = dict(db.execute(f"SELECT key, part FROM {base}.homes").fetchall())  # type: ignore[arg-type]
        for part in range(PARTITIONS):
            schema = partition_schema(base, part)
            for (payload,) in db.execute(
                    f"SELECT payload FROM {schema}.events ORDER BY seq"):  # type: ignore[arg-type]
                ev = as_event(bytes(payload))
                home = f"u:{ev.user_id}" if ev.user_id else f"a:{ev.anonymous_id}"
                assert homes[home] == part, (ev.message_id, home, part)
                applied[_key(ev)].append(ev.message_id or "")
    assert applied.keys() == client.acked.keys()
    moved = {k for k in client.acked if k.startswith("tab-")
             and homes[f"a:{k}"] == homes[f"u:{k[4:]}"]}
    assert len(moved) > 50  # most second devices began in another partition, and moved

    def differs(key: str) -> bool:
        got, sent = applied[key], client.acked[key]
        if key in moved:
            return sorted(got) != sorted(sent) or len(set(got)) != len(got)
        return got != sent

    wrong = [k for k in client.acked if differs(k)]
    assert wrong == [], f"{len(wrong)} customers' events differ: " + "; ".join(
        f"{k} (moved: {k in moved}) applied {applied[k]}, acknowledged {client.acked[k]}"
        for k in wrong[:3])


def _check_outbox(conninfo: str, base: str) -> None:
    ids: list[str] = []
    with psycopg.connect(conninfo) as db:
        for part in range(PARTITIONS):
            ids += [r[0] for r in db.execute(
                f"SELECT id FROM {partition_schema(base, part)}.outbox")]  # type: ignore[arg-type]
    assert ids and len(ids) == len(set(ids))
