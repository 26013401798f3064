"""Where file events come in: streaming CSV, JSONL and Parquet readers and the column mapping
(`intently.engine.ingest_file` runs a file through the engine)."""

from ._mapping import ColumnMap, looks_like_segment, row_to_event
from ._readers import Progress, file_format, header, json_lines, jsonl_row, read_rows

__all__ = [
    "ColumnMap",
    "Progress",
    "file_format",
    "header",
    "json_lines",
    "jsonl_row",
    "looks_like_segment",
    "read_rows",
    "row_to_event",
]
