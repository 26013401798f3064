"""`intently ingest PATH`: CSV, JSONL or Parquet through the pipeline, in constant memory."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from .._errors import IntentlyError
from ..engine import Engine, FileIngestResult, ingest_file
from ..sources import ColumnMap
from ..sources import Progress as ReadProgress
from ._common import CONFIG, DB, JSON, MAP, emit_json, err, guard, map_pairs, settings


def ingest(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV, JSONL or Parquet"),
    user_col: str = typer.Option(None, help="Column with the user id"),
    time_col: str = typer.Option(None, help="Column with the event time"),
    event_col: str = typer.Option(None, help="Column with the event name"),
    anonymous_col: str = typer.Option(None, help="Column with the anonymous id"),
    message_col: str = typer.Option(None, help="Column with a unique event id"),
    session_col: str = typer.Option(None, help="Column with a session id"),
    event_name: str = typer.Option(None, help="Event name for rows without one"),
    map_: list[str] = MAP,
    rejected: Path = typer.Option(None, help="Rejected rows file [default: PATH.rejected.jsonl]"),
    encoding: str = typer.Option("utf-8", help="The file's text encoding (latin-1, cp1251, ...)"),
    as_json: bool = JSON,
    db: str = DB,
    config: str = CONFIG,
) -> None:
    """Ingest a file of events. Columns are guessed from common export names when not given;
    other columns become properties. Rows that fail go to a side file with the reason."""
    s = settings(config, db=db)
    cmap = ColumnMap(user=user_col, time=time_col, event=event_col, anonymous=anonymous_col,
                     message=message_col, session=session_col, properties=map_pairs(map_),
                     default_event=event_name)
    try:
        engine = Engine(settings=s)
    except IntentlyError as exc:
        guard(exc)
        return
    read = ReadProgress(total=os.path.getsize(path))
    try:
        if as_json:
            result = ingest_file(engine, path, cmap, rejected_path=rejected, progress=read,
                                 encoding=encoding)
        else:
            result = _with_bar(engine, path, cmap, rejected, read, encoding)
    except IntentlyError as exc:
        guard(exc)
        return
    finally:
        engine.close()
    if as_json:
        emit_json(result.to_json())
    else:
        err.print(f"accepted {result.accepted}, duplicates {result.duplicates}, "
                  + (f"suppressed {result.suppressed}, " if result.suppressed else "")
                  + f"rejected {result.rejected}"
                  + (f" (reasons in {result.rejected_file})" if result.rejected_file else ""))


def _with_bar(engine: Engine, path: Path, cmap: ColumnMap, rejected: Path | None,
              read: ReadProgress, encoding: str) -> FileIngestResult:
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.percentage:>3.0f}%  {task.fields[counts]}"),
                  TimeRemainingColumn(), console=err) as bar:
        task = bar.add_task(f"ingest {path.name}", total=read.total, counts="")

        def update(r: FileIngestResult) -> None:
            bar.update(task, completed=read.done, total=read.total,
                       counts=f"{r.accepted} accepted, {r.rejected} rejected")

        result = ingest_file(engine, path, cmap, rejected_path=rejected, progress=read,
                             on_batch=update, encoding=encoding)
        update(result)
        return result
