"""The composition root: one process's parts, built from `Settings` in one place.

    app = Application.build(settings)          # the engine on its store, a worker, a dispatcher
    app.serve(host, port)                      # the HTTP API in the foreground, until SIGTERM
    # or: app.start(); app.serve_in_background(port); ...; app.stop()

`intently serve` and `intently demo` both start here; a program embedding Intently may too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ._logging import configure
from .clock import Clock
from .config import Settings
from .engine import Dispatcher, Engine, EngineWorker, channels_from_settings


@dataclass
class Application:
    settings: Settings
    engine: Engine
    worker: EngineWorker
    dispatcher: Dispatcher
    _servers: list[Any] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None,
              engine: Engine | None = None, max_message_age_s: float | None = None
              ) -> Application:
        """The engine on `settings.db` (recovered from its log), the worker that will own it,
        and a dispatcher for the configured channels; nothing runs until `start`."""
        configure(settings.log_level, settings.log_format)
        engine = engine or Engine(settings=settings, clock=clock)
        dispatcher = Dispatcher(
            engine.outbox, channels_from_settings(settings, engine.tracker.secret),
            clock=engine.clock.now,
            max_age_s=max_message_age_s or settings.max_message_age_hours * 3600.0)
        return cls(settings, engine, EngineWorker(engine), dispatcher)

    def start(self) -> Application:
        self.worker.start()
        self.dispatcher.start()
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True
        self.worker.stop()
        self.dispatcher.stop()

    def http(self) -> Any:
        """The HTTP API (a FastAPI app) over this application's worker."""
        from .api import create_app

        return create_app(self.worker, self.settings)

    def serve(self, host: str = "127.0.0.1", port: int = 8000) -> None:
        """Run the API in the foreground until SIGINT/SIGTERM, then stop everything."""
        import uvicorn

        self.start()
        try:
            uvicorn.run(self.http(), host=host, port=port, log_level="warning",
                        access_log=False, http="httptools", timeout_graceful_shutdown=10)
        finally:
            self.stop()

    def serve_in_background(self, port: int, host: str = "127.0.0.1") -> bool:
        """Run the API in a thread; False when it did not come up (the port in use, say)."""
        import uvicorn

        server = uvicorn.Server(uvicorn.Config(self.http(), host=host, port=port,
                                               log_level="error", access_log=False))
        thread = threading.Thread(target=server.run, daemon=True, name="intently-api")
        thread.start()
        deadline = time.monotonic() + 5.0
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if server.started:
            self._servers.append(server)
        return bool(server.started)
