"""The command line: `intently demo | serve | ingest | profile | simulate | bench`."""

from ._app import app


def main() -> None:
    from ..engine import tune_gc

    tune_gc()
    app()


__all__ = ["app", "main"]
