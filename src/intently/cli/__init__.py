"""The command line: `intently demo | serve | ingest | profile | simulate | bench | doctor`
and the command groups (`intent`, `segments`, `rules`, `rfm`, `clv`, `scenarios`, `events`)."""

from ._app import app


def main() -> None:
    import os

    from .._gc import tune_gc
    from .._logging import configure
    from .._threads import tune_threads

    tune_gc()
    tune_threads()
    configure(os.environ.get("INTENTLY_LOG_LEVEL", "warning"),
              os.environ.get("INTENTLY_LOG_FORMAT", "text"))
    app()


__all__ = ["app", "main"]
