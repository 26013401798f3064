"""The FastAPI application: Segment-compatible ingestion plus Intently's own endpoints."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .._errors import IntentlyError
from ..config import Settings
from ..engine import EngineWorker
from ..events import Event
from . import (
    _admin,
    _analytics,
    _dashboard,
    _decide,
    _ingest,
    _intent,
    _preferences,
    _privacy,
    _profiles,
    _scenarios,
    _schemas,
    _segments,
    _web,
)
from ._auth import authorize
from ._cors import ALLOW_ANY_ORIGIN, IngestCORS
from ._deps import Definitions, Intake, Services, embedded_intake
from ._fast import FastApp, defect_answer, error_answer
from ._headers import SECURITY_HEADERS, SecurityHeaders
from ._sessions import Sessions


def _answer_errors(app: FastAPI) -> None:
    """The one error tree's answers: an IntentlyError with its status and message, anything
    else as a logged 500."""

    @app.exception_handler(IntentlyError)
    async def intently_error(request: Request, exc: IntentlyError) -> Response:
        status, headers, body = error_answer(exc)
        return Response(body, status_code=status,
                        headers={k.decode(): v.decode() for k, v in headers})

    @app.exception_handler(Exception)
    async def defect(request: Request, exc: Exception) -> Response:
        return Response(defect_answer(exc, request.method, request.url.path), status_code=500,
                        media_type="application/json")


def create_gateway_app(intake: Intake, alive: Callable[[], bool],
                       decide: _decide.Decide | None = None,
                       control: _privacy.Control | None = None,
                       reads: _privacy.Reads | None = None,
                       definitions: Definitions | None = None,
                       dashboard: bool = False) -> FastAPI:
    """A cluster gateway's API: the Segment-compatible ingest routes, each answered once the
    event stream holds every event of the request, `POST /v1/decide` when `decide` is
    given, the privacy requests when `control` is (with the export and the journal when
    `reads` is), and changes to segments and scenarios when `definitions` is. `alive`:
    whether the stream is reachable (the health check's answer). With `dashboard`, also the
    dashboard and the reading routes, over an engine that reads the whole cluster (set
    `app.state.services` when it is open; until then they answer 503)."""
    app = FastApp(title="Intently gateway", version="0.1.0",
                  description="Segment-compatible ingestion into an Intently cluster.",
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.intake = intake
    secure = SECURITY_HEADERS if dashboard else []  # what the middleware below adds
    for path, route in _ingest.fast_routes(intake).items():
        app.route_fast("POST", path, route, [*ALLOW_ANY_ORIGIN, *secure])
    if decide is not None:
        app.route_fast("POST", "/v1/decide", _decide.fast_route(intake.settings, decide),
                       secure)
    app.add_middleware(IngestCORS)
    _schemas.install(app, [Event, _schemas.IngestBatch, _decide.Receipt])
    app.include_router(_ingest.router)
    if decide is not None:
        app.include_router(_decide.decide_router(decide))
    if control is not None:
        app.include_router(_privacy.cluster_router(control, reads))
    if definitions is not None:
        app.include_router(_segments.cluster_router(definitions))
        app.include_router(_scenarios.cluster_router(definitions))
    if dashboard:  # after the cluster's routes: theirs answer the changes
        app.add_middleware(SecurityHeaders)
        app.state.route_by_identity = True  # links in messages: events by user or device id
        for router in (_profiles.router, _admin.router, _intent.router, _segments.router,
                       _scenarios.router, _scenarios.public, _preferences.public,
                       _dashboard.router, _web.router):
            app.include_router(router)
    _answer_errors(app)

    @app.get("/health", tags=["ops"])
    async def health() -> JSONResponse:
        """200 while the event stream is reachable, else 503 (clients keep their events)."""
        ok = alive()
        return JSONResponse({"status": "ok" if ok else "failed", "role": "gateway"},
                            status_code=200 if ok else 503)

    return app


def create_app(worker: EngineWorker, settings: Settings | None = None) -> FastAPI:
    settings = settings or worker.engine.settings
    app = FastApp(title="Intently", version="0.1.0",
                  description="Real-time behavioral marketing: Segment-compatible ingestion, "
                              "golden records, intent, segments and scenarios.",
                  docs_url=None, redoc_url=None, openapi_url=None)  # behind sign-in, below
    app.state.services = Services(settings=settings, worker=worker,
                                  tokens=worker.engine.tracker,
                                  sessions=Sessions(worker.engine.catalog),
                                  users=worker.engine.users)
    app.state.intake = embedded_intake(worker, settings)
    for path, route in _ingest.fast_routes(app.state.intake).items():
        app.route_fast("POST", path, route, [*ALLOW_ANY_ORIGIN, *SECURITY_HEADERS])
    app.route_fast("POST", "/v1/decide",
                   _decide.fast_route(settings, _decide.decide_here(worker.engine)),
                   SECURITY_HEADERS)
    app.add_middleware(IngestCORS)
    app.add_middleware(SecurityHeaders)
    _schemas.install(app, [Event, _schemas.IngestBatch, _decide.Receipt,
                           _analytics.MineRequest])
    app.include_router(_ingest.router)
    app.include_router(_profiles.router)
    app.include_router(_admin.router)
    app.include_router(_privacy.router)
    app.include_router(_intent.router)
    app.include_router(_segments.router)
    app.include_router(_scenarios.router)
    app.include_router(_scenarios.public)
    app.include_router(_preferences.public)
    app.include_router(_decide.router)
    app.include_router(_dashboard.router)
    app.include_router(_analytics.router)
    app.include_router(_web.router)

    _answer_errors(app)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_document(request: Request) -> JSONResponse:
        """The OpenAPI document, for an admin key or a signed-in dashboard."""
        authorize(request)
        return JSONResponse(app.openapi())

    @app.get("/health", tags=["ops"])
    async def health() -> JSONResponse:
        """200 while the engine takes events; 503 once its worker has stopped (then nothing
        is acknowledged, so clients keep their events and retry)."""
        worker = app.state.services.worker
        body: dict[str, object] = {
            "status": "ok" if worker.alive else "failed",
            "events_set_aside": worker.engine.events_set_aside,
            "background_errors": worker.background_errors}
        if worker.failure is not None:
            body["error"] = repr(worker.failure)
        return JSONResponse(body, status_code=200 if worker.alive else 503)

    return app
