"""`intently bench --cluster`: cluster mode's figures next to the embedded mode's, in one run
on one machine (on two cores the point is the ratio, not the absolute figure).

Every role runs as its own process, as in production (`intently serve --role ...`), against a
nats-server the bench starts in a temporary folder (or the one `stream` names), the PostgreSQL
database `store` names (in a schema of its own, dropped at the end) and the Redis `cache`
names (its keys removed at the end). Figures:

- `cluster_gateway_events_per_s`: batches posted to one gateway until JetStream holds them
  (no worker running), next to `cluster_embedded_events_per_s`, the same bodies posted to
  `intently serve` on SQLite (200 = durable in both);
- `cluster_apply_events_per_s_1` and `_2`: a backlog of events applied by one, then two
  workers (from the first event read to the last committed), each backlog new customers;
- `cluster_new_devices_events_per_s_2`, `cluster_moves_per_s_2`: the first backlog's
  customers come back on new devices and sign in (a storm of moves: most devices begin in
  another partition than their person's, so their records move there), applied by two
  workers; `cluster_moved_records` says how many moved;
- `cluster_event_to_outbox_ms_p50/p99`: from the gateway's receipt of an event to its
  scenario's message being written to the outbox, one event at a time, two workers running
  (once they have written the checkpoints the backlogs left);
- `cluster_decide_ms_p50/p99`: `POST /v1/decide` on the gateway, answered from Redis;
- `cluster_recovery_s`: a worker killed with SIGKILL until each of its partitions has a new
  owner (with `lease_seconds`).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from ..testing import free_port, port_open, start_server, wait_healthy, wait_until
from ._data import shop_events
from .http import KEY, _load

PING = {"name": "bench_ping", "trigger": {"event": "Bench Ping"}, "holdout": 0,
        "steps": [{"send": {"channel": "log", "subject": "ping", "body": "ping"}}]}


def run(*, store: str, cache: str, stream: str | None = None, users: int = 2000,
        partitions: int = 16, lease_s: float = 5.0, batch: int = 100, clients: int = 8,
        pings: int = 200, decides: int = 1000) -> dict[str, Any]:
    from ..scenarios import Scenario
    from ..store.postgres import PostgresStore, with_schema

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    url = with_schema(store, schema)
    with tempfile.TemporaryDirectory() as tmp, _nats(stream, Path(tmp)) as nats_url:
        env = {**os.environ, "INTENTLY_DB": url, "INTENTLY_STREAM": nats_url,
               "INTENTLY_CACHE": cache, "INTENTLY_PARTITIONS": str(partitions),
               "INTENTLY_LEASE_SECONDS": str(lease_s), "INTENTLY_WRITE_KEYS": KEY,
               "INTENTLY_ADMIN_KEYS": KEY, "INTENTLY_LOG_LEVEL": "warning"}
        shared = PostgresStore(url, writer_lock=False)
        shared.save_scenario("bench_ping", json.dumps(Scenario.from_dict(PING).to_json()
                                                      ).encode())
        shared.close()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            return _measure(env, url, Path(tmp), procs, users, partitions, batch, clients,
                            pings, decides)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGCONT)
                    proc.terminate()
            for proc in procs:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            _drop(url, schema, cache)


def _measure(env: dict[str, str], url: str, tmp: Path, procs: list[subprocess.Popen[bytes]],
             users: int, partitions: int, batch: int, clients: int, pings: int,
             decides: int) -> dict[str, Any]:
    first = shop_events(users, 30, seed=31)
    second = shop_events(users, 30, seed=32, first=users)  # other customers
    returning = shop_events(users, 30, seed=33)  # the first ones, on other devices
    bodies = [_body(first[i : i + batch]) for i in range(0, len(first), batch)]
    figures: dict[str, Any] = {"cluster_events": len(first), "cluster_partitions": partitions}

    port = free_port()
    embedded = start_server(tmp / "embedded.db", port, KEY)
    try:
        figures["cluster_embedded_events_per_s"] = round(
            _load(f"http://127.0.0.1:{port}/v1/batch", bodies, clients))
    finally:
        embedded.terminate()
        embedded.wait(60)

    gw_port = free_port()
    procs.append(wait_healthy(_role("gateway", env, gw_port), gw_port, "the gateway"))
    gateway = f"http://127.0.0.1:{gw_port}"
    gw = _load(f"{gateway}/v1/batch", bodies, clients)
    figures["cluster_gateway_events_per_s"] = round(gw)
    figures["cluster_gateway_vs_embedded"] = round(
        gw / figures["cluster_embedded_events_per_s"], 3)

    applied = _Applied(url, partitions)
    for n, backlog in ((1, None), (2, second)):
        if backlog is not None:  # the workers of the last round stopped; a new backlog
            _load(f"{gateway}/v1/batch", [_body(backlog[i : i + batch])
                                           for i in range(0, len(backlog), batch)], clients)
        base = applied.count()
        want = base + len(backlog if backlog is not None else first)
        workers = [_role("worker", env) for _ in range(n)]
        procs.extend(workers)

        def progress(least: int, workers: list[subprocess.Popen[bytes]] = workers) -> bool:
            for proc in workers:
                if proc.poll() is not None:
                    reason = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                    raise RuntimeError(f"a worker exited: {reason}")
            return applied.count() >= least

        wait_until(functools.partial(progress, base + 1), 120, "the workers never started")
        started = time.perf_counter()  # from the first event applied: not process start-up
        counted = applied.count()
        wait_until(functools.partial(progress, want), 600, "the workers fell behind")
        rate = (want - counted) / (time.perf_counter() - started)
        figures[f"cluster_apply_events_per_s_{n}"] = round(rate)
        if n == 1:
            workers[0].terminate()
            workers[0].wait(60)
    figures["cluster_apply_vs_embedded_2"] = round(
        figures["cluster_apply_events_per_s_2"] / figures["cluster_embedded_events_per_s"], 3)
    figures.update(_new_devices(gateway, returning, batch, clients, applied))
    wait_until(lambda: applied.owners() == 2, 60, "two workers never shared the partitions")
    wait_until(applied.settled, 120, "the workers never wrote their checkpoints")

    figures.update(_event_to_outbox(gateway, applied, pings))
    figures.update(_decide(gateway, decides))
    figures.update(_recovery(procs[-2:], applied))
    applied.close()
    return figures


def _new_devices(gateway: str, events: list[bytes], batch: int, clients: int,
                 applied: _Applied) -> dict[str, float]:
    """Returning customers on new devices, posted through the gateway while two workers
    run, until every event is applied and every moved record has left its old partition."""
    base, moved = applied.count(), applied.moved()
    started = time.perf_counter()
    _load(f"{gateway}/v1/batch", [_body(events[i : i + batch])
                                  for i in range(0, len(events), batch)], clients)
    want = base + len(events)
    wait_until(lambda: applied.count() == want and applied.moved() > moved, 600,
               "the new devices were never applied")
    took = time.perf_counter() - started
    records = applied.moved() - moved
    return {"cluster_new_devices_events_per_s_2": round(len(events) / took),
            "cluster_moves_per_s_2": round(records / took, 1),
            "cluster_moved_records": records}


def _event_to_outbox(gateway: str, applied: _Applied, pings: int) -> dict[str, float]:
    """One event at a time, each a new customer's, that the bench's scenario answers at once;
    the delay is from the gateway's receipt (the message's due time) to the outbox row's
    creation in the worker's transaction."""
    tag = uuid.uuid4().hex[:8]
    with httpx.Client(auth=(KEY, ""), timeout=30) as http:
        for i in range(pings):
            http.post(f"{gateway}/v1/track", json={
                "event": "Bench Ping", "anonymousId": f"ping-{tag}-{i}",
                "messageId": f"ping-{tag}-{i}"}
                      ).raise_for_status()
    wait_until(lambda: len(applied.ping_delays()) >= pings, 120, "pings never reached the outbox")
    delays = sorted(applied.ping_delays())
    return {"cluster_event_to_outbox_ms_p50": _pct(delays, 0.5),
            "cluster_event_to_outbox_ms_p99": _pct(delays, 0.99)}


def _decide(gateway: str, n: int) -> dict[str, float]:
    """Receipts of customers the workers have written to Redis, one after another."""
    times: list[float] = []
    with httpx.Client(auth=(KEY, ""), timeout=30) as http:
        for i in range(n):
            receipt = {"items": [{"name": "p-1"}], "userId": f"c{i % 500:06d}"}
            started = time.perf_counter()
            http.post(f"{gateway}/v1/decide", json=receipt).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"cluster_decide_ms_p50": _pct(times, 0.5), "cluster_decide_ms_p99": _pct(times, 0.99),
            "cluster_decide_per_s": round(n / (sum(times) / 1000))}


def _recovery(workers: list[subprocess.Popen[bytes]], applied: _Applied) -> dict[str, float]:
    """SIGKILL one of two workers; seconds until every partition has a live owner again."""
    victim = workers[0]
    held = applied.held_by(victim.pid)
    started = time.perf_counter()
    victim.kill()
    victim.wait(10)
    wait_until(lambda: not (set(applied.held_by(victim.pid)) & set(held))
          and applied.owned() == applied.partitions, 120, "partitions never moved")
    return {"cluster_recovery_s": round(time.perf_counter() - started, 2),
            "cluster_recovery_partitions": len(held)}


class _Applied:
    """Reads the cluster's progress from PostgreSQL."""

    def __init__(self, url: str, partitions: int) -> None:
        import psycopg

        from ..cluster import partition_schema
        from ..store.postgres import split_url

        conninfo, self.base = split_url(url)
        self.partitions = partitions
        self.schemas = [partition_schema(self.base, p) for p in range(partitions)]
        self._db = psycopg.connect(conninfo, autocommit=True)

    def _existing(self) -> list[str]:
        found = {r[0] for r in self._db.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'events' "
            "AND table_schema = ANY(%s)", (self.schemas,))}
        return [s for s in self.schemas if s in found]

    def count(self) -> int:
        schemas = self._existing()
        if not schemas:
            return 0
        query = " + ".join(f"(SELECT count(*) FROM {s}.events)" for s in schemas)
        row = self._db.execute(f"SELECT {query}").fetchone()  # type: ignore[arg-type]
        return int(row[0]) if row else 0

    def moved(self) -> int:
        """Records moved out of a partition so far."""
        found = {r[0] for r in self._db.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = "
            "'forwards' AND table_schema = ANY(%s)", (self.schemas,))}
        schemas = [s for s in self.schemas if s in found]
        if not schemas:
            return 0
        query = " + ".join(f"(SELECT count(DISTINCT record_id) FROM {s}.forwards WHERE "
                           "record_id <> '')" for s in schemas)
        row = self._db.execute(f"SELECT {query}").fetchone()  # type: ignore[arg-type]
        return int(row[0]) if row else 0

    def settled(self) -> bool:
        """Every partition's records are written up to its last event (the idle checkpoint
        after a backlog is done), so latencies are measured in the steady state."""
        for s in self._existing():
            row = self._db.execute(
                f"SELECT (SELECT coalesce(max(seq), 0) FROM {s}.events), "  # type: ignore[arg-type]
                f"(SELECT coalesce(max(value::bigint), 0) FROM {s}.meta "
                "WHERE key = 'checkpoint')").fetchone()
            if row is None or row[1] < row[0]:
                return False
        return True

    def ping_delays(self) -> list[float]:
        out: list[float] = []
        for s in self._existing():
            out += [float(r[0]) * 1000 for r in self._db.execute(
                f"SELECT created_at - due FROM {s}.outbox "  # type: ignore[arg-type]
                "WHERE scenario = 'bench_ping'")]
        return out

    def _table(self) -> list[tuple[Any, ...]]:
        return self._db.execute(
            f"SELECT part, owner FROM {self.base}.leases "  # type: ignore[arg-type]
            "WHERE owner <> '' AND expires_at > now()").fetchall()

    def owners(self) -> int:
        return len({r[1] for r in self._table()})

    def owned(self) -> int:
        return len(self._table())

    def held_by(self, pid: int) -> list[int]:
        return [r[0] for r in self._table() if r[1].endswith(f"-{pid}")]

    def close(self) -> None:
        self._db.close()


def _role(role: str, env: dict[str, str], port: int | None = None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "intently", "serve", "--role", role]
    if port is not None:
        args += ["--port", str(port)]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@contextmanager
def _nats(url: str | None, folder: Path) -> Iterator[str]:
    """The given NATS, or a nats-server of the bench's own (JetStream in `folder`)."""
    if url:
        yield url
        return
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(binary).exists():
        raise RuntimeError("nats-server is not installed (Debian: apt-get install "
                           "nats-server), and no --stream was given")
    port = free_port()
    proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd",
                             str(folder / "jetstream")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: port_open(port), 10, "nats-server did not start")
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _drop(url: str, schema: str, cache: str) -> None:
    import psycopg
    import redis

    from ..store.postgres import split_url

    with psycopg.connect(split_url(url)[0], autocommit=True) as db:
        for (name,) in db.execute("SELECT nspname FROM pg_namespace WHERE nspname = %s OR "
                                  "nspname LIKE %s", (schema, f"{schema}\\_%")).fetchall():
            db.execute(f"DROP SCHEMA {name} CASCADE")  # type: ignore[arg-type]
    client = redis.Redis.from_url(cache)
    for key in client.scan_iter(f"{schema}:*", count=1000):
        client.delete(key)
    client.close()


def _body(events: list[bytes]) -> bytes:
    return b'{"batch":[' + b",".join(events) + b"]}"


def _pct(values: list[float], q: float) -> float:
    return round(values[min(len(values) - 1, int(q * len(values)))], 2)
