"""`intently ingest`: a file through the engine, bad rows to a side file with their reasons.

A JSONL line in Segment's format (an export, a replayed log) is decoded once, straight into an
event, and stored as it was read, as the HTTP API stores what clients send; any other line or
row goes through the column mapping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from .._errors import ValidationError
from ..events import Event, as_event, decode_event
from ..sources import (
    ColumnMap,
    Progress,
    file_format,
    header,
    json_lines,
    jsonl_row,
    looks_like_segment,
    read_rows,
    row_to_event,
)
from ._engine import Engine


@dataclass
class FileIngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejected_file: str | None = None
    suppressed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "suppressed": self.suppressed, "rejected": self.rejected,
                "rejected_file": self.rejected_file}


def ingest_file(
    engine: Engine,
    path: str | Path,
    cmap: ColumnMap | None = None,
    *,
    rejected_path: str | Path | None = None,
    progress: Progress | None = None,
    on_batch: Callable[[FileIngestResult], None] | None = None,
    encoding: str = "utf-8",
) -> FileIngestResult:
    path = Path(path)
    given = cmap or ColumnMap()
    explicit = any(getattr(given, r) for r in ("user", "time", "event", "anonymous")) or bool(
        given.properties)
    columns = header(path, encoding)
    resolved = given.resolve(columns) if columns else None
    rejected_path = Path(rejected_path) if rejected_path else path.with_name(
        path.name + ".rejected.jsonl")
    result = FileIngestResult()
    rejects = None
    encode = msgspec.json.encode
    batch: list[Event] = []
    raws: list[bytes | None] = []
    rows: list[int] = []
    size = engine.settings.batch_size

    def reject(n: int, err: ValidationError, row: Any) -> None:
        nonlocal rejects
        if rejects is None:
            rejects = rejected_path.open("wb")
            result.rejected_file = str(rejected_path)
        result.rejected += 1
        rejects.write(encode({"row": n, "reason": err.message, "path": err.path,
                              "data": row}) + b"\n")

    def flush() -> None:
        try:  # the store may finish the commit while the next batch is read: see the end
            done = engine.commit_batch(batch, raws, later=True)
            result.accepted += done.accepted
            result.duplicates += done.duplicates
            result.suppressed += done.suppressed
        except ValidationError:  # isolate the offender (over the size limit, say)
            for n, ev, raw in zip(rows, batch, raws, strict=True):
                try:
                    done = engine.commit_batch([ev], [raw])
                    result.accepted += done.accepted
                    result.duplicates += done.duplicates
                    result.suppressed += done.suppressed
                except ValidationError as exc:
                    reject(n, exc, msgspec.to_builtins(ev))
        batch.clear()
        raws.clear()
        rows.clear()
        if on_batch:
            on_batch(result)

    segment_lines = not explicit and file_format(path) == "jsonl"
    try:
        for n, row, raw in _rows(path, progress, encoding, segment_lines):
            if isinstance(row, ValidationError):
                reject(n, row, None)
                continue
            if isinstance(row, Event):
                batch.append(row)
                raws.append(raw)
                rows.append(n)
                if len(batch) >= size:
                    flush()
                continue
            try:
                if not explicit and looks_like_segment(row):
                    data = row
                else:
                    if resolved is None:  # headerless formats: guess from the first row
                        resolved = given.resolve(list(row))
                    data = row_to_event(row, resolved, n)
                batch.append(as_event(data, f"row {n}: $"))
            except ValidationError as exc:
                reject(n, exc, row)
                continue
            raws.append(None)
            rows.append(n)
            if len(batch) >= size:
                flush()
        if batch:
            flush()
        engine.land()  # every accepted event durable before the counts are returned
    finally:
        if rejects is not None:
            rejects.close()
    return result


_Row = Event | dict[str, Any] | ValidationError


def _rows(path: Path, progress: Progress | None, encoding: str, segment_lines: bool
          ) -> Iterator[tuple[int, _Row, bytes | None]]:
    """(row number, row, the line as read when the row is an event decoded from it). With
    `segment_lines` (a JSONL file, no mapping given), each line is first read as a Segment
    event: one decode, and the line stored as received; a line that is not one is read as a
    row, for the mapping to name what is wrong or missing (a line that names no `userId` or
    `anonymousId` is not tried as an event: a file of plain rows is decoded once too)."""
    if not segment_lines:
        for n, row in read_rows(path, progress, encoding):
            yield n, row, None
        return
    for n, line in json_lines(path, progress, encoding):
        if '"userId"' in line or '"anonymousId"' in line:  # else no event: decode it once
            raw = line.rstrip("\r\n").encode()
            try:
                event, exact = decode_event(raw)
            except ValidationError:
                pass
            else:
                yield n, event, raw if exact else None
                continue
        yield n, jsonl_row(line, n), None
