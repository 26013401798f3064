"""HTTP batch ingest: `intently serve` in its own process, clients posting /v1/batch over
keep-alive connections from threads of this one; 200 means durable."""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from ..testing import free_port, start_server

KEY = "bench-key"


def run(events: list[bytes], batch: int = 100, clients: int = 8) -> dict[str, Any]:
    bodies = [b'{"batch":[' + b",".join(events[i : i + batch]) + b"]}"
              for i in range(0, len(events), batch)]
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_server(Path(tmp) / "http.db", port, KEY)
        try:
            url = f"http://127.0.0.1:{port}/v1/batch"
            parts = [bodies[i::clients] for i in range(clients)]

            def send(part: list[bytes]) -> int:
                done = 0
                with httpx.Client(auth=(KEY, ""), timeout=30,
                                  headers={"content-type": "application/json"}) as client:
                    for body in part:
                        response = client.post(url, content=body)
                        response.raise_for_status()
                        done += response.json()["accepted"]
                return done

            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                accepted = sum(pool.map(send, parts))
            elapsed = time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return {"http_batch_events_per_s": round(accepted / elapsed), "http_batch_size": batch,
            "http_clients": clients}
