"""A cluster node's composition root: the roles of cluster mode as processes, started by
`intently serve --role gateway|worker|dispatcher|all`.

Each runs until SIGINT or SIGTERM, then stops cleanly: a gateway finishes its requests, a
worker writes what its partitions hold and gives their leases back, a dispatcher finishes its
sends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import AsyncIterator
from typing import Any

from ._logging import configure
from ._views import export_view, merged_export
from .clock import Clock
from .cluster import (
    ClusterDefinitions,
    ClusterOutbox,
    ClusterReads,
    ClusterWorker,
    DashboardWorker,
    Gateway,
    RecordReader,
    bootstrap,
)
from .config import Settings
from .decisions import Decider, load_decider
from .engine import Dispatcher, channels_from_settings
from .scenarios import Scenario
from .segments import Segment
from .store.postgres import PostgresStore, split_url

_log = logging.getLogger("intently.cluster")


def _name(role: str) -> str:
    return f"{role}-{socket.gethostname()}-{os.getpid()}"


def gateway_app(settings: Settings, *, rules_every_s: float = 30.0,
                clock: Clock | None = None, dashboard: bool = False,
                dashboard_refresh_s: float = 2.0) -> Any:
    """The gateway's FastAPI app; it connects to NATS when the server starts. With a cache
    (`settings.cache`), it also answers `POST /v1/decide` from the records there, with the
    offer rules read from PostgreSQL (again every `rules_every_s`). `clock` files the events'
    receive times (tests skip time). With `dashboard`, it also serves the dashboard and the
    reading routes over the whole cluster (read again every `dashboard_refresh_s`)."""
    from .api import Intake, Services, Sessions, create_gateway_app

    gateway = Gateway(settings, _name("gateway"), clock)
    reader = RecordReader(settings.cache, split_url(settings.db)[1]) if settings.cache else None
    decider = [Decider([])]

    async def decide(items: list[str], who: str | None, at: float | None) -> dict[str, Any]:
        """From the record in Redis; the daily offer cap counted in Redis too, across every
        gateway (in this gateway's memory while Redis is away)."""
        profile = await reader.find(who) if reader is not None and who else None
        now = at or gateway.clock.now()
        customer = profile.id if profile is not None else who
        given = (await reader.offers_given(customer, now)
                 if reader is not None and customer else None)
        result = decider[0].decide(items, profile, now, customer=who, given=given)
        if reader is not None and given is not None and customer and result["offers"]:
            await reader.note_offers(customer, now, [uuid.uuid4().hex
                                                     for _ in result["offers"]])
        result["customer"] = customer
        return result

    async def load_rules() -> None:
        try:
            decider[0] = await asyncio.to_thread(_load_decider, settings)
        except Exception as exc:  # the database is away: keep deciding with what we had
            _log.warning("offer rules not loaded", extra={"error": repr(exc)})

    async def refresh_rules() -> None:
        while True:
            await asyncio.sleep(rules_every_s)
            await load_rules()

    viewer: list[DashboardWorker] = []

    def open_dashboard(app: Any) -> None:
        worker = DashboardWorker(settings, refresh_s=dashboard_refresh_s)
        engine = worker.engine
        services = Services(settings=settings, worker=worker, tokens=engine.tracker,
                            sessions=Sessions(engine.catalog), users=engine.users)
        worker.on_refresh.append(services.hub.refreshed)
        worker.start()
        viewer.append(worker)
        app.state.services = services

    async def keep_opening_dashboard(app: Any) -> None:
        wait = 1.0
        while True:
            try:
                await asyncio.to_thread(open_dashboard, app)
                _log.info("the dashboard's view of the cluster is open")
                return
            except Exception as exc:  # PostgreSQL away: the gateway ingests meanwhile
                _log.error("the dashboard's view of the cluster is not open; retrying",
                           extra={"error": repr(exc), "retry_s": wait})
            await asyncio.sleep(wait)
            wait = min(wait * 2, 30.0)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        connecting = await gateway.start_when_ready()
        rules = None
        if reader is not None:
            await load_rules()  # before the first request
            rules = asyncio.create_task(refresh_rules())
        opening = asyncio.create_task(keep_opening_dashboard(app)) if dashboard else None
        try:
            yield
        finally:
            for task in (rules, connecting, opening):
                if task is not None:
                    task.cancel()
            for worker in viewer:
                await asyncio.to_thread(worker.stop)
            if reader is not None:
                await reader.close()
            await gateway.close()

    app = create_gateway_app(Intake(settings, gateway.submit), lambda: gateway.alive,
                             decide if reader is not None else None, gateway.control,
                             ClusterReads(settings, export_view, merged_export,
                                          gateway.control),
                             ClusterDefinitions(settings, gateway.control),
                             dashboard=dashboard)
    app.router.lifespan_context = lifespan
    return app


def _load_decider(settings: Settings) -> Decider:
    shared = PostgresStore(settings.db, readonly=True)
    try:
        return load_decider(shared)
    finally:
        shared.close()


def serve_gateway(settings: Settings, host: str, port: int, *, dashboard: bool = False
                  ) -> None:
    import uvicorn

    configure(settings.log_level, settings.log_format)
    uvicorn.run(gateway_app(settings, dashboard=dashboard), host=host, port=port,
                log_level="warning",
                access_log=False, http="httptools", timeout_graceful_shutdown=10)


def run_worker(settings: Settings, name: str | None = None,
               stop: threading.Event | None = None) -> None:
    """A partition worker in the foreground (or in a thread: then `stop` ends it)."""
    configure(settings.log_level, settings.log_format)
    worker = ClusterWorker(settings, name=name or _name("worker"))

    async def main() -> None:
        done = asyncio.Event()
        if stop is None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, done.set)
        else:
            loop = asyncio.get_running_loop()

            def wait() -> None:
                stop.wait()
                loop.call_soon_threadsafe(done.set)

            loop.run_in_executor(None, wait)
        await worker.run(done)

    asyncio.run(main())


def start_dispatcher(settings: Settings) -> tuple[Dispatcher, ClusterOutbox]:
    """A dispatcher over every partition's outbox, started in its thread."""
    bootstrap(settings)
    shared = PostgresStore(settings.db, writer_lock=False)
    try:
        secret = shared.get_meta("secret") or ""
    finally:
        shared.close()
    outbox = ClusterOutbox(settings.db, settings.partitions, settings.encryption_keys)
    dispatcher = Dispatcher(outbox, channels_from_settings(settings, secret.encode()),
                            owner=_name("dispatcher"),
                            max_age_s=settings.max_message_age_hours * 3600.0)
    return dispatcher.start(), outbox


def run_dispatcher(settings: Settings) -> None:
    configure(settings.log_level, settings.log_format)
    dispatcher, outbox = start_dispatcher(settings)
    _wait_for_signal()
    dispatcher.stop()
    outbox.close()


def serve_all(settings: Settings, host: str, port: int) -> None:
    """Every role in one process: the gateway in the foreground, a worker and a dispatcher in
    threads (a small cluster, or one node of several)."""
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(settings, None, stop),
                              name="intently-worker")
    worker.start()
    dispatcher, outbox = start_dispatcher(settings)
    try:
        serve_gateway(settings, host, port, dashboard=True)
    finally:
        stop.set()
        dispatcher.stop()
        outbox.close()
        worker.join(30)


def _wait_for_signal() -> None:
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()


def cluster_export(settings: Settings, identifier: str, actor: str) -> dict[str, Any]:
    """A person's export from a cluster, as a gateway makes it (for the CLI)."""

    async def main() -> dict[str, Any]:
        gateway = await Gateway(settings, _name("cli")).start()
        try:
            reads = ClusterReads(settings, export_view, merged_export, gateway.control)
            return await reads.exported(identifier, actor)
        finally:
            await gateway.close()

    return asyncio.run(main())


def cluster_log(settings: Settings, limit: int) -> dict[str, Any]:
    """The cluster's privacy journal (for the CLI)."""
    return ClusterReads(settings, export_view, merged_export, _no_control).log(limit)


async def _no_control(kind: str, request: dict[str, object]) -> int:
    raise RuntimeError("reading the journal sends nothing")



def cluster_define(settings: Settings, kind: str,
                   changes: list[tuple[str, Segment | Scenario | None]],
                   actor: str) -> list[dict[str, Any]]:
    """Segments or scenarios (`kind`) changed in a running cluster, as a gateway changes them
    (for the CLI): each (name, definition) pair puts it, or deletes it when the definition
    is None."""

    async def main() -> list[dict[str, Any]]:
        gateway = await Gateway(settings, _name("cli")).start()
        defs = ClusterDefinitions(settings, gateway.control)
        answers = []
        try:
            for name, definition in changes:
                if isinstance(definition, Segment):
                    answers.append(await defs.put_segment(definition, actor))
                elif isinstance(definition, Scenario):
                    answers.append(await defs.put_scenario(definition, actor))
                elif kind == "segment":
                    answers.append(await defs.remove_segment(name, actor))
                else:
                    answers.append(await defs.remove_scenario(name, actor))
            return answers
        finally:
            await gateway.close()

    return asyncio.run(main())
