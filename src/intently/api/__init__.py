"""The HTTP surface: `create_app(worker)` (`intently.app.Application.serve` runs it)."""

from ._app import create_app, create_gateway_app
from ._deps import Intake, Services
from ._sessions import Sessions

__all__ = ["Intake", "Services", "Sessions", "create_app", "create_gateway_app"]
