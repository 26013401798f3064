"""The HTTP surface: `create_app(worker)` (`intently.app.Application.serve` runs it)."""

from ._app import create_app, create_gateway_app
from ._deps import Intake

__all__ = ["Intake", "create_app", "create_gateway_app"]
