"""What the routes share: settings and the engine worker, kept on the app's state."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import Request

from .._errors import StoreError
from ..config import Settings
from ..engine import Engine, EngineWorker, IngestResult, Users
from ..events import Event
from ..scenarios import Scenario, Tracker
from ..segments import Segment
from ._live import LiveHub
from ._sessions import LoginThrottle, Sessions


@dataclass
class Services:
    settings: Settings
    worker: EngineWorker
    tokens: Tracker
    """Signs and reads the tokens of message links and dashboard sessions (the store's
    secret: taken once, not through the engine on each request)."""
    sessions: Sessions
    """Dashboard sessions logged out before they expire."""
    users: Users
    """The dashboard's users (read here; changed on the engine's thread)."""
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    """Failed sign-ins, per user name or client address."""
    hub: LiveHub = field(default_factory=LiveHub)


Submit = Callable[[list[Event], list[bytes | None] | None], Awaitable[IngestResult]]


@dataclass
class Intake:
    """Where the ingest routes send what they accepted: the embedded engine's worker, or a
    cluster gateway's stream. `submit` returns once every event is durable."""

    settings: Settings
    submit: Submit


class Definitions(Protocol):
    """How a cluster gateway changes segments and scenarios (`cluster.ClusterDefinitions`):
    each call answers once every partition has the change to apply."""

    async def put_segment(self, segment: Segment, actor: str) -> dict[str, Any]: ...

    async def remove_segment(self, name: str, actor: str) -> dict[str, Any]: ...

    async def put_scenario(self, scenario: Scenario, actor: str) -> dict[str, Any]: ...

    async def remove_scenario(self, name: str, actor: str) -> dict[str, Any]: ...


def intake(request: Request) -> Intake:
    return request.app.state.intake  # type: ignore[no-any-return]


def embedded_intake(worker: EngineWorker, settings: Settings) -> Intake:
    async def submit(events: list[Event], raws: list[bytes | None] | None) -> IngestResult:
        return await asyncio.wrap_future(worker.submit(events, raws))

    return Intake(settings, submit)


def services(request: Request) -> Services:
    found = getattr(request.app.state, "services", None)
    if found is None:  # a cluster gateway whose dashboard engine is not open (yet)
        raise StoreError("the dashboard is not ready: its view of the cluster is not open "
                         "yet (PostgreSQL unreachable?)")
    return found  # type: ignore[no-any-return]


async def submit_link_event(request: Request, event: dict[str, Any]) -> None:
    """Take an event a link in a message made (an open, a click, a preference saved), named
    by the record's id: to the engine, or to a cluster's stream. A cluster routes by user and
    device ids, so there the event names the record's own (read from the dashboard's view:
    the record may have moved or merged since the message was sent)."""
    from ..engine import as_event

    if getattr(request.app.state, "route_by_identity", False):
        record = str(event.pop("userId", ""))
        profile = await on_engine(request, lambda e: e.find(record))
        if profile is not None and profile.user_id:
            event["userId"] = profile.user_id
        elif profile is not None and profile.anonymous_ids:
            event["anonymousId"] = profile.anonymous_ids[0]
        else:
            event["userId"] = record
    await intake(request).submit([as_event(event)], None)


async def on_engine(request: Request, fn: Callable[[Engine], Any]) -> Any:
    """Run `fn(engine)` on the engine thread, between commits (a consistent read or write)."""
    return await asyncio.wrap_future(services(request).worker.call(fn))
