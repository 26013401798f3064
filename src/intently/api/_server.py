"""Running the API: an engine worker plus uvicorn, shut down cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import uvicorn

from .._logging import configure
from ..config import Settings
from ..engine import Dispatcher, Engine, EngineWorker, channels_from_settings
from ._app import create_app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000,
          engine: Engine | None = None) -> None:
    configure(settings.log_level, settings.log_format)
    engine = engine or Engine(settings=settings)
    worker = EngineWorker(engine).start()
    dispatcher = start_dispatcher(engine, settings)
    app = create_app(worker, settings)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                    http="httptools", timeout_graceful_shutdown=10)
    finally:
        worker.stop()
        dispatcher.stop()


def start_dispatcher(engine: Engine, settings: Settings) -> Dispatcher:
    """Deliver the outbox in the background through the configured channels."""
    secret = (engine.store.get_meta("secret") or "").encode()
    return Dispatcher(engine.store, channels_from_settings(settings, secret),
                      clock=engine.clock.now,
                      max_age_s=settings.max_message_age_hours * 3600.0).start()
