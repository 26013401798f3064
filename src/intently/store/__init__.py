"""Where state lives: the store port and its backends, chosen by a short URL.

    sqlite:///path/to/intently.db   (or just a path)   embedded, durable
    memory://                                          tests and throwaway runs
"""

from __future__ import annotations

from pathlib import Path

from ._base import Account, AccountUpdate, LogRow, SegmentChange, SetAside, Store, StoredEvent
from .memory import MemoryStore
from .sqlite import SQLiteStore


def open_store(url: str | Path, *, durability: str = "fsync", readonly: bool = False) -> Store:
    """Open a backend by URL or path."""
    text = str(url)
    if text.startswith("memory:"):
        return MemoryStore()
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        raise ValueError(f"unknown store {scheme!r}; use a file path, sqlite:///PATH or memory://")
    return SQLiteStore(text, durability=durability, readonly=readonly)


__all__ = ["Account", "AccountUpdate", "LogRow", "MemoryStore", "SQLiteStore", "SegmentChange",
           "SetAside", "Store", "StoredEvent", "open_store"]
