"""`intently ingest`: a file through the engine, bad rows to a side file with their reasons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from .._errors import ValidationError
from ..events import Event, as_event
from ..sources import ColumnMap, Progress, header, looks_like_segment, read_rows, row_to_event
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
        try:
            done = engine.commit_batch(batch)
            result.accepted += done.accepted
            result.duplicates += done.duplicates
            result.suppressed += done.suppressed
        except ValidationError:  # isolate the offender (over the size limit, say)
            for n, ev in zip(rows, batch, strict=True):
                try:
                    done = engine.commit_batch([ev])
                    result.accepted += done.accepted
                    result.duplicates += done.duplicates
                    result.suppressed += done.suppressed
                except ValidationError as exc:
                    reject(n, exc, msgspec.to_builtins(ev))
        batch.clear()
        rows.clear()
        if on_batch:
            on_batch(result)

    try:
        for n, row in read_rows(path, progress, encoding):
            if isinstance(row, ValidationError):
                reject(n, row, None)
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
            rows.append(n)
            if len(batch) >= size:
                flush()
        if batch:
            flush()
    finally:
        if rejects is not None:
            rejects.close()
    return result
