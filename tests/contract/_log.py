"""Helpers for the contract suites: log rows of one record, written in one transaction."""

from __future__ import annotations

from intently.store import LogRow, Store


def rows(first: int, ids: list[str], record: str = "c", prev: int = 0) -> list[LogRow]:
    """Log rows of one record, each pointing back to the one before (the first to `prev`)."""
    return [(first + i, record, 100.0 + i, 200.0, f'{{"m":"{mid}"}}'.encode(),
             first + i - 1 if i else prev) for i, mid in enumerate(ids)]


def write(store: Store, first: int, ids: list[str], record: str = "c", prev: int = 0
          ) -> set[int]:
    with store.transaction() as tx:
        dupes = tx.claim(ids, first)
        tx.append([r for i, r in enumerate(rows(first, ids, record, prev)) if i not in dupes])
    return dupes
