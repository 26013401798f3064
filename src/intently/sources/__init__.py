"""Where file events come in: streaming CSV, JSONL and Parquet readers and the column mapping."""

from ._ingest import FileIngestResult, ingest_file
from ._mapping import ColumnMap, row_to_event
from ._readers import Progress, header, read_rows

__all__ = [
    "ColumnMap",
    "FileIngestResult",
    "Progress",
    "header",
    "ingest_file",
    "read_rows",
    "row_to_event",
]
