"""The command line: `intently demo | serve | ingest | profile | simulate | bench`."""

from ._app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
