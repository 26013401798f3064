"""`intently bench`: throughput, latency and memory figures as one JSON object."""

from __future__ import annotations

import typer

from ._common import JSON, emit_json


def bench(
    quick: bool = typer.Option(False, "--quick", help="Smaller run, under 30 s"),
    cluster: bool = typer.Option(False, "--cluster", help="Cluster mode's figures instead "
                                 "(gateways, workers, outbox, decisions, recovery) next to "
                                 "the embedded mode's"),
    store: str = typer.Option("postgresql:///test", help="--cluster: the PostgreSQL database "
                              "(a schema of its own is made and dropped)"),
    stream: str = typer.Option(None, help="--cluster: a NATS server with JetStream (default: "
                               "a nats-server started for the run)"),
    cache: str = typer.Option("redis://127.0.0.1:6379/0", help="--cluster: Redis (its keys "
                              "are removed at the end)"),
    customers: int = typer.Option(None, "--customers", min=10_000, help="Only the realistic "
                                  "profile, with this many customers over a day (a cache of a "
                                  "tenth of them) against 10,000"),
    as_json: bool = JSON,
) -> None:
    """Measure the pipeline, its storage floor, HTTP ingest, latency and memory per profile."""
    if customers is not None:
        from ..benchmarks import realistic

        figures = realistic.run(False, customers=customers)
    elif cluster:
        from ..benchmarks import cluster as cluster_bench

        figures = cluster_bench.run(store=store, stream=stream, cache=cache,
                                    users=1000 if quick else 4000)
    else:
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
