"""A table's rows in one SQLite statement, which runs to its end without Python's GIL.

The commit thread (`_sqlite_landing`) may write a batch while the engine runs the next one. A
statement run row by row (`executemany`) gives the GIL up for each row's step and waits to get
it back from the engine's thread: 2,000 rows took 7.6 s (stop 40). So there each table's rows
go in one statement, `INSERT ... SELECT ... FROM json_each(?1)`, one step for all of them,
which waits for the GIL once. (One statement for every table, through a view's triggers,
spent 1.7 times as long in SQLite: each row runs every trigger's test.) The thread that holds
the GIL anyway writes row by row: `executemany` costs it less than building the JSON (a group
commit in place took 2 to 3 µs an event more in bulk).

The rows travel as one JSON array of arrays: numbers and text as JSON values, and each blob as
its offset and length in the second parameter, which holds the statement's blobs end to end
(`substr` on a blob counts bytes). Numbers come back exactly: integers as integers, and every
double as the same double (checked on two million, random bit patterns among them). Text
would not always: SQLite's JSON ends a string at an escaped NUL (`"a\\u0000b"` reads `"a"`),
so when any text of a statement holds one, that statement sends its text the way it sends
blobs, and casts it back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import msgspec

Statement = tuple[str, tuple[Any, ...]]
"""SQL and its parameters, run with `execute`."""

_encode = msgspec.json.Encoder().encode
_NUL = b"\\u0000"  # how msgspec writes a NUL in a JSON string (and a text's own "\u0000")


class Bulk:
    """A table write for any number of rows, two ways: `row_sql` for `executemany`, one step
    a row (where the engine's thread writes), and one statement, `sql` with `{}` where the
    rows' columns go, selected from `json_each(?1) AS j` (where the commit thread does).
    `kinds` has a letter a column: `n` a number (or NULL), `t` text, `b` a blob."""

    def __init__(self, sql: str, kinds: str, row_sql: str) -> None:
        if set(kinds) - set("ntb") or kinds.count("b") > 1:
            raise ValueError(f"column kinds are n, t or b (one b at most): {kinds!r}")
        self.row_sql = row_sql
        self._blob = kinds.find("b")
        self._text = [i for i, k in enumerate(kinds) if k != "n"]
        self._sql = sql.format(_columns(kinds, safe=False))
        self._safe_sql = sql.format(_columns(kinds, safe=True))

    def of(self, rows: Sequence[Sequence[Any]]) -> Rows | None:
        """These rows to write; None when there are none."""
        return Rows(self, rows) if rows else None

    def statement(self, rows: Sequence[Sequence[Any]]) -> Statement:
        """The one statement writing these rows."""
        i = self._blob
        if i < 0:
            data = _encode(rows)
            if _NUL not in data:
                return self._sql, (data,)
        else:
            blobs = [row[i] for row in rows]
            at = 1  # substr counts from 1
            shaped = []
            for row, blob in zip(rows, blobs, strict=True):
                shaped.append((*row[:i], at, len(blob), *row[i + 1:]))
                at += len(blob)
            data = _encode(shaped)
            if _NUL not in data:
                return self._sql, (data, b"".join(blobs))
        apart, blob = _apart(rows, self._text)  # text holds a NUL
        return self._safe_sql, (_encode(apart), blob)


class Rows(NamedTuple):
    """Rows a `Bulk` writes."""

    bulk: Bulk
    rows: Sequence[Sequence[Any]]


def _columns(kinds: str, *, safe: bool) -> str:
    """The select list: column i of a row at its index in the row's JSON array."""
    out: list[str] = []
    at = 0
    for kind in kinds:
        if kind == "n" or (kind == "t" and not safe):
            out.append(f"j.value->>{at}")
            at += 1
            continue
        part = f"substr(?2, j.value->>{at}, j.value->>{at + 1})"
        out.append(part if kind == "b" else f"CAST({part} AS TEXT)")
        at += 2
    return ", ".join(out)


def _apart(rows: Iterable[Sequence[Any]], apart: list[int]) -> tuple[list[list[Any]], bytes]:
    """The rows with the values at `apart` (a blob, or text to send as UTF-8) replaced by
    their offset and length in the blob returned (None and None for a NULL)."""
    parts: list[bytes] = []
    at = 1
    shaped: list[list[Any]] = []
    last = apart[::-1]
    for row in rows:
        out = list(row)
        for i in last:  # from the right, so the indexes to the left hold
            value = out[i]
            if value is None:
                out[i : i + 1] = (None, None)
                continue
            raw = value.encode() if isinstance(value, str) else bytes(value)
            out[i : i + 1] = (at, len(raw))
            parts.append(raw)
            at += len(raw)
        shaped.append(out)
    return shaped, b"".join(parts)


def run(db: sqlite3.Connection, writes: Iterable[Rows]) -> None:
    """Each write in turn, a step a row, inside the caller's transaction (on the thread that
    holds the GIL anyway, `executemany` is the quicker)."""
    for bulk, rows in writes:
        db.executemany(bulk.row_sql, rows)


def statements(writes: Iterable[Rows]) -> list[Statement]:
    """Each write as one statement (for the commit thread: see the module's note)."""
    return [bulk.statement(rows) for bulk, rows in writes]


def run_statements(db: sqlite3.Connection, statements: Iterable[Statement]) -> None:
    """Each statement in turn, inside the caller's transaction."""
    for sql, params in statements:
        db.execute(sql, params)
