"""kill -9 during ingestion loses no acknowledged event: a real server process, killed and
restarted, against a real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from intently import Engine
from intently.testing import Shop, free_port, start_server

pytestmark = pytest.mark.crash

KEY = "crash-key"


def _serve(db: Path, port: int) -> subprocess.Popen[bytes]:
    return start_server(db, port, KEY, checkpoint_events="700")


def test_kill_9_loses_no_acknowledged_event(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    events = list(Shop(users=150, days=20, seed=9).events())
    batches = [events[i : i + 25] for i in range(0, len(events), 25)]
    port = free_port()
    proc = _serve(db, port)
    acked: list[str] = []
    stop = threading.Event()

    def client(part: list[list[dict]]) -> None:
        with httpx.Client(auth=(KEY, ""), timeout=5) as http:
            for batch in part:
                if stop.is_set():
                    return
                try:
                    r = http.post(f"http://127.0.0.1:{port}/v1/batch", json={"batch": batch})
                except httpx.HTTPError:
                    return  # the server died mid-request: not acknowledged
                if r.status_code == 200:
                    acked.extend(ev["messageId"] for ev in batch)

    threads = [threading.Thread(target=client, args=(batches[i::3],)) for i in range(3)]
    for t in threads:
        t.start()
    while len(acked) < len(events) // 3:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert 0 < len(acked) < len(events)

    # restart: recovery replays the log after the last checkpoint
    proc = _serve(db, port)
    try:
        with httpx.Client(auth=(KEY, ""), timeout=10) as http:
            # every acknowledged event is there: resending them is all duplicates
            by_id = {ev["messageId"]: ev for ev in events}
            resend = [by_id[m] for m in acked]
            dupes = 0
            for i in range(0, len(resend), 200):
                r = http.post(f"http://127.0.0.1:{port}/v1/batch",
                              json={"batch": resend[i : i + 200]})
                assert r.status_code == 200
                dupes += r.json()["duplicates"]
            assert dupes == len(acked)
            # then the rest of the stream goes in, and the records equal a clean run's
            rest = [ev for ev in events if ev["messageId"] not in set(acked)]
            for i in range(0, len(rest), 200):
                r = http.post(f"http://127.0.0.1:{port}/v1/batch",
                              json={"batch": rest[i : i + 200]})
                assert r.status_code == 200
            stats = http.get(f"http://127.0.0.1:{port}/v1/stats").json()
            assert stats["events_stored"] == len(events)
            sample = [c.user_id for c in Shop(users=150, days=20, seed=9).customers[:25]]
            served = {uid: http.get(f"http://127.0.0.1:{port}/v1/profiles/{uid}",
                                    params={"timeline": 0}) for uid in sample}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    clean = Engine(tmp_path / "clean.db")
    clean.process_many(events)
    for uid, response in served.items():
        if response.status_code == 404:  # never seen, in either run
            assert clean.find(uid) is None
            continue
        got = response.json()["aggregates"]
        want = clean.profile(uid)
        # arrival order differs between the runs, so compare order-free aggregates
        assert (got["events"], got["orders"], round(got["revenue"], 2)) == (
            want.events, want.orders, round(want.revenue, 2)), json.dumps(got)
        assert got["event_counts"] == want.event_counts
    clean.close()
