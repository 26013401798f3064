"""HTTP ingest over real sockets: clients post /v1/batch over keep-alive connections from
threads of this process to a server in its own process; 200 means durable. Three servers, one
after the other on the same bodies and the same client: the floor (`floor_app`: msgspec decode
and an fsynced SQLite append, nothing else), `intently serve` as it starts by default, and
`intently serve` as users run it (built-in segments and the ready-made scenarios on). Then events
one a request (`/v1/track`, as browsers send them, from `wrk` with many connections where it is
installed), to the floor and to `intently serve` as it starts."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from .._threads import cpython_switching
from ..testing import free_port, start_server, wait_healthy
from ._client import KEY, connect, post
from ._wrk import requests_per_s, run_wrk


def _load(url: str, bodies: list[bytes], clients: int, paths: list[str] | None = None,
          seconds: float | None = None) -> float:
    """Events per second accepted, `clients` threads posting `bodies` between them (to `url`,
    or to `url` + `paths[i]` for body i), each over one keep-alive connection (`_client`);
    with `seconds`, no request starts after that long."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    sent = list(zip(bodies, [parts.path + p for p in paths] if paths else
                    [parts.path] * len(bodies), strict=True))
    shares = [sent[i::clients] for i in range(clients)]
    deadline = float("inf") if seconds is None else time.monotonic() + seconds

    def send(share: list[tuple[bytes, str]]) -> int:
        done = 0
        connection = connect(host, port)
        try:
            for body, path in share:
                if time.monotonic() > deadline:
                    break
                done += int(msgspec.json.decode(post(connection, path, body))["accepted"])
        finally:
            connection.close()
        return done

    with cpython_switching():
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            accepted = sum(pool.map(send, shares))
        return accepted / (time.perf_counter() - started)


def _start_floor(db: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "intently.benchmarks.floor_app",
                             "--port", str(port), "--db", str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return wait_healthy(proc, port, "the floor app")


def _with_scenarios(db: Path) -> None:
    """A store with the six ready-made scenarios saved (the realistic server opens it)."""
    from ..config import Settings
    from ..engine import Engine
    from ..scenarios import ready_made

    engine = Engine(db, settings=Settings(db=str(db)))
    for scenario in ready_made().values():
        engine.put_scenario(scenario)
    engine.close()


def _measure(start: Any, bodies: list[bytes], clients: int, paths: list[str] | None = None
             ) -> float:
    """Posted to /v1/batch, or one event a request to /v1/<paths[i]>."""
    port = free_port()
    proc = start(port)
    try:
        return _load(f"http://127.0.0.1:{port}/v1/{'' if paths else 'batch'}", bodies, clients,
                     paths)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


_WRK_TRACK = """
local n = 0
local run = math.random(1, 1000000000)
request = function()
  n = n + 1
  local body = '{"userId":"u' .. (n %% 5000) .. '","event":"Product Viewed","messageId":"w'
    .. run .. '-' .. n .. '","properties":{"product_id":"p' .. (n %% 300)
    .. '","price":19.9}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer %s"}, body)
end
"""
WRK_CONNECTIONS = 64
"""Browsers sending one event a request: many connections at once."""


def _one_a_request(start: Any, events: list[bytes], clients: int, calls: list[str],
                   root: Path, seconds: int = 5) -> float:
    """Events per second, one a request: from wrk (`WRK_CONNECTIONS` connections, product
    views of 5,000 customers, each with its own messageId) where Debian's wrk is installed,
    else `events` from the client threads."""
    if not shutil.which("wrk"):
        return _measure(start, events, clients, calls)
    port = free_port()
    proc = start(port)
    try:
        out = run_wrk(f"http://127.0.0.1:{port}/v1/track", _WRK_TRACK % KEY, root, seconds,
                      WRK_CONNECTIONS)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return requests_per_s(out)


def _calls(events: list[bytes]) -> list[str]:
    """The call each event is sent to on its own (`track`, `identify`, ...)."""
    return [str(msgspec.json.decode(e).get("type") or "track") for e in events]


def run(events: list[bytes], batch: int = 100, clients: int = 8, realistic: bool = True,
        cache: int | None = None) -> dict[str, Any]:
    bodies = [b'{"batch":[' + b",".join(events[i : i + batch]) + b"]}"
              for i in range(0, len(events), batch)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        floor = _measure(lambda port: _start_floor(root / "floor.db", port), bodies, clients)
        plain = _measure(lambda port: start_server(root / "plain.db", port, KEY), bodies,
                         clients)
        # one event a request, as browsers send them: many connections at once (wrk), or a
        # tenth of the events from the client threads where Debian's wrk is missing
        single = events[: max(1, len(events) // 10)]
        calls = _calls(single)
        single_floor = _one_a_request(lambda port: _start_floor(root / "floor1.db", port),
                                      single, clients, calls, root)
        single_plain = _one_a_request(
            lambda port: start_server(root / "plain1.db", port, KEY), single, clients, calls,
            root)
        figures = {
            "http_floor_events_per_s": round(floor),
            "http_batch_events_per_s": round(plain),
            "http_batch_vs_floor": round(plain / floor, 3),
            "http_single_floor_events_per_s": round(single_floor),
            "http_single_events_per_s": round(single_plain),
            "http_single_vs_floor": round(single_plain / single_floor, 3),
        }
        if realistic:
            _with_scenarios(root / "real.db")
            extra = {"builtin_segments": "true"}
            if cache:
                extra["cache_profiles"] = str(cache)
            real = _measure(lambda port: start_server(root / "real.db", port, KEY, **extra),
                            bodies, clients)
            figures.update(http_realistic_events_per_s=round(real),
                           http_realistic_vs_floor=round(real / floor, 3))
    figures.update(http_batch_size=batch, http_clients=clients)
    return figures
