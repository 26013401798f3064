"""The HTTP surface: `create_app(worker)` (`intently.app.Application.serve` runs it)."""

from ._app import create_app

__all__ = ["create_app"]
