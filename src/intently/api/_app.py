"""The FastAPI application: Segment-compatible ingestion plus Intently's own endpoints."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .._errors import AuthError, IntentlyError
from ..config import Settings
from ..engine import EngineWorker
from . import _analytics, _dashboard, _decide, _intent, _profiles, _scenarios, _segment, _segments
from ._deps import Services


def create_app(worker: EngineWorker, settings: Settings | None = None) -> FastAPI:
    settings = settings or worker.engine.settings
    app = FastAPI(title="Intently", version="0.1.0",
                  description="Real-time behavioral marketing: Segment-compatible ingestion, "
                              "golden records, intent, segments and scenarios.")
    app.state.services = Services(settings=settings, worker=worker)
    app.include_router(_segment.router)
    app.include_router(_profiles.router)
    app.include_router(_intent.router)
    app.include_router(_segments.router)
    app.include_router(_scenarios.router)
    app.include_router(_scenarios.public)
    app.include_router(_decide.router)
    app.include_router(_dashboard.router)
    app.include_router(_analytics.router)
    from ..web import router as web

    app.include_router(web)

    @app.exception_handler(IntentlyError)
    async def intently_error(request: Request, exc: IntentlyError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Basic realm="intently"'} if isinstance(
            exc, AuthError) else None
        return JSONResponse(exc.to_json(), status_code=exc.status, headers=headers)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
