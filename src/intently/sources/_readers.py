"""Streaming readers: rows come out one at a time, so a 10M-row file never loads whole."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

from .._errors import ValidationError


class Progress:
    """Bytes (or rows, for Parquet) done out of a total, for a progress bar."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0


def _open_text(path: Path) -> tuple[IO[str], IO[bytes]]:
    raw = path.open("rb")
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline=""), raw


def file_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    kind = suffixes[-1] if suffixes else ""
    if kind in (".csv", ".tsv"):
        return kind[1:]
    if kind in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if kind in (".parquet", ".pq"):
        return "parquet"
    raise ValidationError(f"unknown file type {path.name!r}: use .csv, .tsv, .jsonl or .parquet "
                          "(optionally .gz)", str(path))


def header(path: Path) -> list[str]:
    kind = file_format(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    if kind == "jsonl":
        return []
    text, raw = _open_text(path)
    with raw, text:
        return next(csv.reader(text, delimiter="\t" if kind == "tsv" else ","), [])


def read_rows(path: Path, progress: Progress | None = None
              ) -> Iterator[tuple[int, dict[str, Any] | ValidationError]]:
    """(row number, row or the reason it cannot be read), numbered from 1 (after a header)."""
    kind = file_format(path)
    if kind == "parquet":
        yield from _parquet(path, progress)
        return
    text, raw = _open_text(path)
    with raw, text:
        if kind == "jsonl":
            decode = msgspec.json.decode
            for n, line in enumerate(text, start=1):
                if progress and n % 1000 == 0:
                    progress.done = raw.tell()
                if not line.strip():
                    continue
                try:
                    row = decode(line)
                except msgspec.DecodeError as exc:
                    yield n, ValidationError(f"malformed JSON: {exc}", f"line {n}")
                    continue
                if not isinstance(row, dict):
                    yield n, ValidationError("expected a JSON object", f"line {n}")
                    continue
                yield n, row
        else:
            reader = csv.DictReader(text, delimiter="\t" if kind == "tsv" else ",")
            for n, row in enumerate(reader, start=1):
                if progress and n % 1000 == 0:
                    progress.done = raw.tell()
                if None in row or None in row.values():  # too many or too few fields
                    width = sum(v is not None for k, v in row.items() if k is not None)
                    width += len(row.get(None) or ())  # type: ignore[call-overload]
                    yield n, ValidationError(
                        f"row has {width} fields, the header has "
                        f"{len(reader.fieldnames or [])}", f"row {n}")
                    continue
                yield n, row
    if progress:
        progress.done = progress.total


def _parquet(path: Path, progress: Progress | None
             ) -> Iterator[tuple[int, dict[str, Any] | ValidationError]]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    if progress:
        progress.total = parquet.metadata.num_rows
    n = 0
    for batch in parquet.iter_batches(batch_size=10_000):
        for row in batch.to_pylist():
            n += 1
            yield n, row
        if progress:
            progress.done = n
