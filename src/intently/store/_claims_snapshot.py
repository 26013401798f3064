"""The message-id index saved when a SQLite store closes, and read back when it next claims.

Building the index from `claims` (`_claims`) reads every id's hash and puts it in: 1.5-2.3 s
at a million customers (5.6 million ids), paid by the first batch after every restart, which
its clients waited out. A store that closes saves the index's table as it is
(`<database>-claims`, 16 bytes a slot), and the next writer reads it back in one read.

The file's header says what it covers: the last row of `claims` it holds, how many rows there
were up to it, and a digest of that row. A file that does not match the database (another
database's, one restored from a backup of another history, a file cut short) is not used; the
index is built from `claims` as before. Rows after the last it covers (a writer that stopped
without closing wrote them) are put in as a commit's rows are. The index may hold hashes of
ids whose commit failed: every hit is checked against its row (`_claims`), so a stale entry
never makes a new event a duplicate, and it is the same in memory as in the file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from hashlib import blake2b
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from ._claims import HashIndex

_log = logging.getLogger("intently.store")

MAGIC = b"intently claims index 1\n"
AT_LEAST = 100_000
"""Ids the index must hold to be saved: fewer are read from `claims` about as fast."""


def path_for(database: str) -> Path:
    """Where the index of the database at `database` is saved."""
    return Path(database + "-claims")


def _covered(db: sqlite3.Connection, last: int) -> tuple[int, str]:
    """How many rows of `claims` there are up to `last`, and a digest of row `last`."""
    rows = int(db.execute("SELECT count(*) FROM claims WHERE id <= ?", (last,)).fetchone()[0])
    row = db.execute("SELECT hashes FROM claims WHERE id = ?", (last,)).fetchone()
    return rows, blake2b(row[0] if row else b"", digest_size=16).hexdigest()


def write(db: sqlite3.Connection, path: Path, index: HashIndex,
          overflow: dict[str, int]) -> None:
    """Save `index` (and the ids it keeps aside, `overflow`) to `path`, whole or not at all:
    a failure is logged and leaves no file."""
    started = time.perf_counter()
    last = int(db.execute("SELECT coalesce(max(id), 0) FROM claims").fetchone()[0])
    rows, digest = _covered(db, last)
    keys, vals, count = index.arrays()
    header = msgspec.json.encode({"last": last, "rows": rows, "digest": digest,
                                  "slots": len(keys), "count": count, "overflow": overflow})
    part = path.with_name(path.name + ".part")
    try:
        with part.open("wb") as f:
            f.write(MAGIC + len(header).to_bytes(8, "little") + header)
            keys.tofile(f)
            vals.tofile(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            part.unlink()
        _log.warning("the message-id index was not saved; the next start builds it",
                     extra={"path": str(path), "error": str(exc)})
        return
    _log.info("message-id index saved", extra={
        "ids": count, "bytes": path.stat().st_size,
        "seconds": round(time.perf_counter() - started, 3)})


def read(db: sqlite3.Connection, path: Path) -> tuple[HashIndex, int, dict[str, int]] | None:
    """The index saved at `path`, the last row of `claims` it covers and the ids it keeps
    aside; None where there is none, or it does not match the database."""
    import numpy as np

    from ._claims import HashIndex

    started = time.perf_counter()
    try:
        with path.open("rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                _unused(path, "not an index file")
                return None
            header: dict[str, Any] = msgspec.json.decode(f.read(int.from_bytes(f.read(8),
                                                                               "little")))
            slots = int(header["slots"])
            keys = np.fromfile(f, np.int64, slots)
            vals = np.fromfile(f, np.int64, slots)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, msgspec.DecodeError) as exc:
        _unused(path, f"unreadable: {exc}")
        return None
    if len(keys) != slots or len(vals) != slots or slots & (slots - 1):
        _unused(path, "cut short")
        return None
    last = int(header["last"])
    if _covered(db, last) != (header["rows"], header["digest"]):
        _unused(path, "another history than the database's")
        return None
    index = HashIndex.restored(keys, vals, int(header["count"]))
    _log.info("message-id index read back", extra={
        "ids": index.count, "seconds": round(time.perf_counter() - started, 3)})
    return index, last, {str(k): int(v) for k, v in header["overflow"].items()}


def _unused(path: Path, why: str) -> None:
    _log.warning("the saved message-id index does not match the database; building it",
                 extra={"path": str(path), "why": why})
