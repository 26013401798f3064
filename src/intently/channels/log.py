"""Dry runs: messages are written to a JSON-lines file (or kept in memory), never sent."""

from __future__ import annotations

import threading
from pathlib import Path

import msgspec

from ._message import Message


class LogChannel:
    """Appends each message as one JSON line to `path` (when given) and keeps the latest in
    `sent`."""

    def __init__(self, name: str = "log", path: str | Path | None = None, keep: int = 1000
                 ) -> None:
        self.name = name
        self.path = Path(path) if path else None
        self.keep = keep
        self.sent: list[Message] = []
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        with self._lock:
            self.sent.append(message)
            del self.sent[:-self.keep]
            if self.path is not None:
                with self.path.open("ab") as f:
                    f.write(msgspec.json.encode(message) + b"\n")

    def close(self) -> None:
        pass
