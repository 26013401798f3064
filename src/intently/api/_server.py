"""Running the API: an engine worker plus uvicorn, shut down cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import uvicorn

from ..config import Settings
from ..engine import Engine, EngineWorker
from ._app import create_app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000,
          engine: Engine | None = None) -> None:
    engine = engine or Engine(settings=settings)
    worker = EngineWorker(engine).start()
    app = create_app(worker, settings)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                    http="httptools")
    finally:
        worker.stop()
