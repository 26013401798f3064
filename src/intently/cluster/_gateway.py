"""The gateway: validates what the Segment-compatible API accepted, files it (receive time,
filing time, message id) and publishes it to its partition's subject with `Nats-Msg-Id` set
to the message id. It answers only after JetStream acknowledged every event of the request;
a resend within the dedupe window is acknowledged as a duplicate and stored once (and the
partition's owner drops any later repeat by message id).

An event's partition is its customer's home in the directory (`_homes`): a person's devices
and user id meet in one partition, and a device that signs in after its journey began in
another partition is moved to the person's."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence

import msgspec
import nats
import psycopg
from nats.js import JetStreamContext

from .._errors import PayloadTooLarge, StoreError
from ..clock import Clock, SystemClock
from ..config import Settings
from ..engine import IngestResult
from ..events import Event, filed_time
from ..store.postgres import split_url
from ._bootstrap import bootstrap
from ._homes import Homes, Move
from ._stream import HEADER_CONTROL, HEADER_RECEIVED, HEADER_TS, connect, ensure_stream

_log = logging.getLogger("intently.cluster")
_encode = msgspec.json.Encoder().encode


class Gateway:
    """Publishes accepted events; one per gateway process, on the server's event loop."""

    def __init__(self, settings: Settings, name: str = "gateway",
                 clock: Clock | None = None) -> None:
        """`clock`: what files each event's receive time (tests skip time with a
        `ManualClock`, as the embedded engine's do)."""
        self.settings = settings
        self.name = name
        self.clock = clock or SystemClock()
        self._nc: nats.NATS | None = None
        self._js: JetStreamContext | None = None
        self.published = 0
        self.duplicates = 0
        conninfo, base = split_url(settings.db)
        self.homes = Homes(conninfo, base, settings.partitions,
                           encryption_keys=settings.encryption_keys)

    async def start(self) -> Gateway:
        """Connect and make sure the stream exists; raises when NATS cannot be reached."""
        await asyncio.to_thread(bootstrap, self.settings)  # the directory of homes, and the rest
        nc = await connect(self.settings, self.name)
        js = nc.jetstream(timeout=self.settings.stream_ack_seconds)
        try:
            await ensure_stream(js, self.settings)
        except BaseException:
            await nc.close()
            raise
        self._nc, self._js = nc, js
        return self

    async def start_when_ready(self) -> asyncio.Task[None] | None:
        """`start`, or, when NATS cannot be reached yet, a task that keeps trying (requests
        are answered 503 meanwhile, so clients keep their events)."""
        try:
            await self.start()
            return None
        except (nats.errors.Error, psycopg.Error, StoreError, OSError, TimeoutError) as exc:
            _log.error("NATS or PostgreSQL unreachable; the gateway answers 503 until both "
                       "are back",
                       extra={"error": repr(exc)})
            return asyncio.create_task(self._keep_trying())

    async def _keep_trying(self) -> None:
        wait = 0.5
        while self._nc is None:
            await asyncio.sleep(wait)
            try:
                await self.start()
                _log.info("NATS and PostgreSQL reachable; the gateway takes events")
            except (nats.errors.Error, psycopg.Error, StoreError, OSError, TimeoutError):
                wait = min(wait * 2, 10.0)

    @property
    def alive(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def submit(self, events: list[Event], raws: Sequence[bytes | None] | None = None
                     ) -> IngestResult:
        """Publish every event and wait for every acknowledgement: all were stored, or the
        request fails with 503 (and the client's retry is deduplicated)."""
        js = self._js
        if js is None:
            raise StoreError("the gateway is not connected to NATS")
        s = self.settings
        now = self.clock.now()
        filled = set()  # events the gateway named: their raw bodies lack the id
        for i, ev in enumerate(events):
            if not ev.message_id:
                ev.message_id = f"gw-{uuid.uuid4().hex}"
                filled.add(i)
        payloads: list[bytes] = []
        for i, ev in enumerate(events):
            raw = raws[i] if raws is not None and i not in filled else None
            ev.received_at = now
            ev.ts = filed_time(ev, now, s.future_tolerance_seconds)
            payload = raw if raw is not None else _encode(ev)
            if len(payload) > s.max_event_bytes:
                raise PayloadTooLarge(f"event is {len(payload)} bytes, over the "
                                      f"{s.max_event_bytes}-byte limit", f"$[{i}]")
            payloads.append(payload)
        parts, moves = await self._route(events)
        sends = [(f"{s.stream_subject}.{part}", payload,
                  {"Nats-Msg-Id": ev.message_id or "", HEADER_TS: repr(ev.ts),
                   HEADER_RECEIVED: repr(now)})
                 for ev, payload, part in zip(events, payloads, parts, strict=True)]
        try:
            acks = await asyncio.gather(*(js.publish(subject, payload, headers=headers)
                                          for subject, payload, headers in sends))
        except (TimeoutError, nats.errors.Error) as exc:
            _log.error("publish failed; the request is refused (the client retries)",
                       extra={"events": len(events), "error": repr(exc)})
            raise StoreError(f"the event stream did not acknowledge: {exc!r}") from None
        if moves:  # after the events: the device's record joins the person's
            await self._move(js, moves)
        dupes = {i for i, ack in enumerate(acks) if ack.duplicate}
        self.published += len(acks) - len(dupes)
        self.duplicates += len(dupes)
        return IngestResult(accepted=len(acks) - len(dupes), duplicates=len(dupes),
                            duplicate_at=dupes)

    async def _route(self, events: list[Event]) -> tuple[list[int], list[Move]]:
        """Each event's partition (its customer's home), and the moves to send."""
        try:
            return await self.homes.route(events)
        except psycopg.Error as exc:
            _log.error("the directory of homes is unreachable; the request is refused (the "
                       "client retries)", extra={"events": len(events),
                                                 "error": str(exc).strip()})
            raise StoreError("the directory of homes is unreachable") from None

    async def _move(self, js: JetStreamContext, moves: list[Move]) -> None:
        """Ask the partition that holds each key to move its record to the event's
        (deduplicated by the event's message id: a resent request asks once)."""
        s = self.settings
        try:
            await asyncio.gather(*(js.publish(
                f"{s.stream_subject}.{m.home}",
                _encode({"request": m.request, "key": m.key, "to": m.to, "by": m.by,
                         "user": m.user}),
                headers={"Nats-Msg-Id": m.request, HEADER_CONTROL: "move"}) for m in moves))
        except (TimeoutError, nats.errors.Error) as exc:
            _log.error("move not published; the request is refused (the client retries)",
                       extra={"moves": len(moves), "error": repr(exc)})
            raise StoreError(f"the event stream did not acknowledge: {exc!r}") from None
        self.homes.moves += len(moves)
        _log.info("records asked to move", extra={"moves": len(moves)})

    async def control(self, kind: str, request: dict[str, object]) -> int:
        """Publish a privacy request to every partition, where each owner applies it in
        order with the partition's events (a person's records may sit in several partitions).
        Returns the partitions it went to; raises StoreError when any was not acknowledged
        (a retry with the same request id is deduplicated)."""
        js = self._js
        if js is None:
            raise StoreError("the gateway is not connected to NATS")
        s = self.settings
        body = _encode(request)
        try:
            await asyncio.gather(*(js.publish(
                f"{s.stream_subject}.{part}", body,
                headers={"Nats-Msg-Id": f"{request['request']}:p{part}", HEADER_CONTROL: kind})
                for part in range(s.partitions)))
        except (TimeoutError, nats.errors.Error) as exc:
            _log.error("privacy request not published", extra={"kind": kind,
                                                               "error": repr(exc)})
            raise StoreError(f"the event stream did not acknowledge: {exc!r}") from None
        return s.partitions

    async def close(self) -> None:
        """Wait for acknowledgements in flight, then disconnect (at once when the server is
        unreachable: nothing is in flight that could still be acknowledged)."""
        nc, self._nc, self._js = self._nc, None, None
        await self.homes.close()
        if nc is None:
            return
        try:
            await nc.drain()
        except (TimeoutError, nats.errors.Error, OSError):
            with contextlib.suppress(nats.errors.Error, OSError):  # the server is gone
                await nc.close()
