"""The HTTP surface: `create_app(worker)`; `serve(...)` runs it with uvicorn."""

from ._app import create_app
from ._server import serve, start_dispatcher

__all__ = [
    "create_app",
    "serve",
    "start_dispatcher",
]
