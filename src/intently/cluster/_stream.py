"""The JetStream side: the stream of accepted events, and reading one partition of it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import nats
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError

from ..config import Settings
from ._layout import STREAM

_log = logging.getLogger("intently.cluster")

HEADER_TS = "Intently-Ts"
HEADER_RECEIVED = "Intently-Received-At"
HEADER_CONTROL = "Intently-Control"
Control = Callable[[str, dict[str, object]], Awaitable[int]]
"""(kind, request) -> the partitions it went to: how a request reaches every partition's
owner, in order with its events (`Gateway.control`)."""
"""On a control message (a privacy request) instead of an event: its kind (`erase`,
`suppress`, `unsuppress`); the body is the request as JSON. It is published to every
partition, in order with the events there."""


async def connect(settings: Settings, name: str) -> nats.NATS:
    """A connection that keeps reconnecting once made (a restarted server is found again);
    raises TimeoutError when no server answers within 5 s at first."""
    assert settings.stream

    async def error(exc: Exception) -> None:
        _log.warning("NATS connection error", extra={"client": name, "error": repr(exc)})

    async def disconnected() -> None:
        _log.warning("NATS disconnected; reconnecting", extra={"client": name})

    async def reconnected() -> None:
        _log.info("NATS reconnected", extra={"client": name})

    # with reconnects unbounded, nats-py also retries a first connection forever: bound it
    return await asyncio.wait_for(
        nats.connect(settings.stream, name=name, max_reconnect_attempts=-1,
                     reconnect_time_wait=0.5, connect_timeout=2, drain_timeout=5,
                     error_cb=error, disconnected_cb=disconnected, reconnected_cb=reconnected),
        timeout=5.0)


async def ensure_stream(js: JetStreamContext, settings: Settings) -> None:
    """The stream, file-backed, with duplicate detection by `Nats-Msg-Id` over
    `stream_dedupe_seconds`, keeping events `stream_max_age_days`; created once, left as it
    is when it exists."""
    config = StreamConfig(
        name=STREAM, subjects=[f"{settings.stream_subject}.*"], storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS, discard=DiscardPolicy.OLD,
        num_replicas=settings.stream_replicas,
        duplicate_window=settings.stream_dedupe_seconds,
        max_age=settings.stream_max_age_days * 86400.0 or None)
    try:
        await js.add_stream(config)
    except BadRequestError as exc:
        # 10058: the name is in use with other settings; 10065: "subjects overlap", which
        # NATS 2.9 also answers when another role creates the same stream at the same moment
        if exc.err_code not in (10058, 10065):
            raise
        for attempt in range(10):  # the other role's stream may still be being made
            try:
                await js.stream_info(STREAM)
                break
            except NotFoundError:
                if attempt == 9:
                    raise exc from None  # another stream holds these subjects: a conflict
                await asyncio.sleep(0.1)
        _log.info("stream exists (made by another role, or with other settings); left as "
                  "it is", extra={"stream": STREAM, "code": exc.err_code})


async def partition_reader(js: JetStreamContext, settings: Settings, partition: int,
                           after: int) -> JetStreamContext.PullSubscription:
    """An ephemeral pull consumer over one partition's subject from stream position
    `after + 1` (the owner's committed offset lives in PostgreSQL, not in the broker)."""
    return await js.pull_subscribe(
        f"{settings.stream_subject}.{partition}", durable=None, stream=STREAM,
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=after + 1, inactive_threshold=60.0))
