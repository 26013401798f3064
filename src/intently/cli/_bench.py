"""`intently bench`: throughput, latency and memory figures as one JSON object."""

from __future__ import annotations

import typer

from ._common import JSON, emit_json


def bench(
    quick: bool = typer.Option(False, "--quick", help="Smaller run, under 30 s"),
    as_json: bool = JSON,
) -> None:
    """Measure the pipeline, its storage floor, HTTP ingest, latency and memory per profile."""
    from ..benchmarks import run_all

    figures = run_all(quick=quick)
    if as_json:
        emit_json(figures)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("figure", "value", title="intently bench")
    for key, value in figures.items():
        table.add_row(key, str(value))
    Console().print(table)
