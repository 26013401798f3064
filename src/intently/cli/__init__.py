"""The command line: `intently demo | serve | ingest | profile | simulate | bench | doctor`
and the command groups (`intent`, `segments`, `rules`, `rfm`, `clv`, `scenarios`, `events`)."""

from ._app import app


def main() -> None:
    from .._gc import tune_gc

    tune_gc()
    app()


__all__ = ["app", "main"]
