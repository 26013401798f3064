"""HTTP batch ingest over real sockets: clients post /v1/batch over keep-alive connections from
threads of this process to a server in its own process; 200 means durable. Three servers, one
after the other on the same bodies and the same client: the floor (`floor_app`: msgspec decode
and an fsynced SQLite append, nothing else), `intently serve` as it starts by default, and
`intently serve` as users run it (built-in segments and the ready-made scenarios on)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from ..testing import free_port, start_server, wait_healthy

KEY = "bench-key"


def _load(url: str, bodies: list[bytes], clients: int) -> float:
    """Events per second accepted, `clients` threads posting `bodies` between them."""
    parts = [bodies[i::clients] for i in range(clients)]

    def send(part: list[bytes]) -> int:
        done = 0
        with httpx.Client(auth=(KEY, ""), timeout=60,
                          headers={"content-type": "application/json"}) as client:
            for body in part:
                response = client.post(url, content=body)
                response.raise_for_status()
                done += response.json()["accepted"]
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        accepted = sum(pool.map(send, parts))
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


def _measure(start: Any, bodies: list[bytes], clients: int) -> float:
    port = free_port()
    proc = start(port)
    try:
        return _load(f"http://127.0.0.1:{port}/v1/batch", bodies, clients)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def run(events: list[bytes], batch: int = 100, clients: int = 8, realistic: bool = True,
        cache: int | None = None) -> dict[str, Any]:
    bodies = [b'{"batch":[' + b",".join(events[i : i + batch]) + b"]}"
              for i in range(0, len(events), batch)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        floor = _measure(lambda port: _start_floor(root / "floor.db", port), bodies, clients)
        plain = _measure(lambda port: start_server(root / "plain.db", port, KEY), bodies,
                         clients)
        figures = {
            "http_floor_events_per_s": round(floor),
            "http_batch_events_per_s": round(plain),
            "http_batch_vs_floor": round(plain / floor, 3),
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
