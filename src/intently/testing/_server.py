"""A real `intently serve` in its own process, for tests and benchmarks that need one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(db: Path, port: int, key: str, **settings: str) -> subprocess.Popen[bytes]:
    """Start `intently serve` on 127.0.0.1:`port` with `key` as write and admin key; returns
    once /health answers. `settings` become INTENTLY_* variables."""
    env = {**os.environ, "INTENTLY_WRITE_KEYS": key, "INTENTLY_ADMIN_KEYS": key,
           **{f"INTENTLY_{k.upper()}": v for k, v in settings.items()}}
    proc = subprocess.Popen(
        [sys.executable, "-m", "intently", "serve", "--port", str(port), "--db", str(db)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    reason = proc.stderr.read().decode() if proc.stderr else ""
    raise RuntimeError(f"intently serve did not start: {reason}")
