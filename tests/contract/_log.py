"""Helpers for the contract suites: log rows of one record, written in one transaction."""

from __future__ import annotations

from intently.store import LogRow, Store


def rows(first: int, ids: list[str], record: str = "c", prev: int = 0,
         received: float = 200.0) -> list[LogRow]:
    """Log rows of one record, each pointing back to the one before (the first to `prev`),
    at event times 100, 101, ..."""
    return [(first + i, record, 100.0 + i, received, f'{{"m":"{mid}"}}'.encode(),
             first + i - 1 if i else prev) for i, mid in enumerate(ids)]


def write(store: Store, first: int, ids: list[str], record: str = "c", prev: int = 0,
          received: float = 200.0) -> set[int]:
    with store.transaction() as tx:
        dupes = tx.claim(ids, first)
        tx.append([r for i, r in enumerate(rows(first, ids, record, prev, received))
                   if i not in dupes])
    return dupes
