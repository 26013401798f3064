"""The bench's HTTP load client where `wrk` does not fit: the standard library's `http.client`
on one keep-alive connection, about 0.2 ms of CPU a request here, so the load does not set the
pace. (httpx spent 1.8 ms a request: its eight threads, sharing one interpreter, kept a floor
server that needed 0.3 s of CPU for 35,000 events busy less than half of the 0.65 s they took,
so the floor measured the client.)"""

from __future__ import annotations

import base64
from http.client import HTTPConnection

KEY = "bench-key"
"""The write and admin key of every server the bench starts."""
HEADERS = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode(),
           "Content-Type": "application/json"}


def connect(host: str, port: int, timeout_s: float = 60.0) -> HTTPConnection:
    return HTTPConnection(host, port, timeout=timeout_s)


def post(connection: HTTPConnection, path: str, body: bytes | str) -> bytes:
    """POST `body` as JSON with the bench's key; the answer's body, or RuntimeError naming the
    status when it is not 200."""
    connection.request("POST", path, body, HEADERS)
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200:
        raise RuntimeError(f"POST {path} answered {response.status}: {answer[:500]!r}")
    return answer
