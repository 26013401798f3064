"""Streaming readers: rows come out one at a time, so a 10M-row file never loads whole."""

from __future__ import annotations

import csv
import gzip
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import msgspec

from .._errors import ValidationError


class Progress:
    """Bytes (or rows, for Parquet) done out of a total, for a progress bar."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0


DELIMITERS = ",;\t|"


def _open_text(path: Path, encoding: str = "utf-8") -> tuple[Iterator[str], IO[bytes]]:
    """The file's lines as text, decoded one at a time, so a line the encoding cannot read is
    named: ValidationError `line N` (with a hint to pass `--encoding`)."""
    raw = path.open("rb")
    stream: IO[bytes] = (
        cast(IO[bytes], gzip.GzipFile(fileobj=raw)) if path.suffix == ".gz" else raw)
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # a byte order mark, as Excel writes it, is not a column name
    return _decoded(stream, encoding), raw


def _decoded(stream: IO[bytes], encoding: str) -> Iterator[str]:
    for n, line in enumerate(stream, start=1):
        try:
            text = line.decode(encoding if n == 1 else encoding.replace("-sig", ""))
        except UnicodeDecodeError as exc:
            shown = encoding.replace("-sig", "")
            raise ValidationError(
                f"cannot read line {n} as {shown} ({exc.reason} at byte {exc.start}); pass "
                "the file's encoding, for example --encoding latin-1 or --encoding cp1251",
                f"line {n}") from None
        except LookupError:
            raise ValidationError(f"unknown encoding {encoding!r}", "--encoding") from None
        yield text


def _delimiter(first_line: str, kind: str) -> str:
    """The header's separator: `;` (European Excel), tab, `|` or `,`; whichever the header
    has most of (a header with none has one column)."""
    if kind == "tsv":
        return "\t"
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","




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


def header(path: Path, encoding: str = "utf-8") -> list[str]:
    kind = file_format(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    if kind == "jsonl":
        return []
    text, raw = _open_text(path, encoding)
    with raw:
        first = next(text, "")
        return next(csv.reader([first], delimiter=_delimiter(first, kind)), [])


def read_rows(path: Path, progress: Progress | None = None, encoding: str = "utf-8"
              ) -> Iterator[tuple[int, dict[str, Any] | ValidationError]]:
    """(row number, row or the reason it cannot be read), numbered from 1 (after a header).
    A file that is not in `encoding` raises ValidationError naming the line."""
    kind = file_format(path)
    if kind == "parquet":
        yield from _parquet(path, progress)
        return
    text, raw = _open_text(path, encoding)
    with raw:
        if kind == "jsonl":
            yield from _jsonl(text, raw, progress)
        else:
            first = next(text, "")
            reader = csv.DictReader(itertools.chain([first], text),
                                    delimiter=_delimiter(first, kind))
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


def _jsonl(text: Iterator[str], raw: IO[bytes], progress: Progress | None
           ) -> Iterator[tuple[int, dict[str, Any] | ValidationError]]:
    for n, line in _lines(text, raw, progress):
        yield n, jsonl_row(line, n)


def _lines(text: Iterator[str], raw: IO[bytes], progress: Progress | None
           ) -> Iterator[tuple[int, str]]:
    for n, line in enumerate(text, start=1):
        if progress and n % 1000 == 0:
            progress.done = raw.tell()
        if line.strip():
            yield n, line


def json_lines(path: Path, progress: Progress | None = None, encoding: str = "utf-8"
               ) -> Iterator[tuple[int, str]]:
    """A JSONL file's lines that are not blank, numbered from 1, as text: for a reader that
    decodes them itself (`intently ingest` reads Segment's format straight into events and
    keeps each line as received); `jsonl_row` reads one as `read_rows` does."""
    text, raw = _open_text(path, encoding)
    with raw:
        yield from _lines(text, raw, progress)
    if progress:
        progress.done = progress.total


def jsonl_row(line: str, n: int) -> dict[str, Any] | ValidationError:
    """JSONL line `n` as a row, or the reason it is none."""
    try:
        row = msgspec.json.decode(line)
    except msgspec.DecodeError as exc:
        return ValidationError(f"malformed JSON: {exc}", f"line {n}")
    if not isinstance(row, dict):
        return ValidationError("expected a JSON object", f"line {n}")
    return row


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
