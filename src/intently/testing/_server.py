"""A real `intently serve` in its own process, for tests and benchmarks that need one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def port_open(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(ok: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `ok` until it holds; raise TimeoutError(`what`) after `seconds` (a bounded
    wait)."""
    deadline = time.monotonic() + seconds
    while not ok():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.02)


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
    return wait_healthy(proc, port, "intently serve")


def wait_healthy(proc: subprocess.Popen[bytes], port: int, name: str,
                 timeout_s: float = 30.0) -> subprocess.Popen[bytes]:
    """Return `proc` once its /health on 127.0.0.1:`port` answers 200; kill it and raise with
    what it printed if it exits or does not answer within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    reason = proc.stderr.read().decode() if proc.stderr else ""
    raise RuntimeError(f"{name} did not start: {reason}")
