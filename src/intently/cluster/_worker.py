"""The partition worker: takes partitions under leases, applies their events from JetStream
through the same engine as the embedded mode, and commits each batch's state, outbox rows and
stream position in one PostgreSQL transaction fenced by the lease's epoch.

Each owned partition is an `Engine` over a `PartitionStore`. A lost lease, a refused commit or
a broken connection drops the partition (its memory is discarded, nothing is written); it is
taken again later, by this worker or another, from the last committed position. Timers
(segment windows, scenario waits) fire on the owner, under the same fence.

A record moves between partitions when a gateway asks (`move`, see `_homes`): the owner
publishes it with its events to the person's partition (`adopt`) before it commits the move,
then deletes it, leaves forwarding entries and points its keys' homes there; events that still
arrive for those keys are forwarded, in order, before the partition's position passes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from dataclasses import dataclass, replace
from typing import Any

import msgspec
import nats
import psycopg
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from .._errors import StoreError, ValidationError
from ..clock import Clock, SystemClock
from ..config import Settings
from ..engine import (
    Arrival,
    Engine,
    Leaving,
    MovedEvent,
    Processed,
    adopt_events,
    adopt_records,
    forget,
    leaving,
    release,
)
from ..events import Event, from_log
from ..profiles import Profile, decode_profile, encode_profile
from ..store import Merge, SealedStore
from ..store.postgres import split_url, with_schema
from ._bootstrap import bootstrap
from ._cache import RecordWriter
from ._definitions import apply_definition
from ._homes import ordered_keys
from ._layout import partition_schema
from ._leases import Lease, Leases
from ._partition import PartitionStore
from ._stream import (
    HEADER_CONTROL,
    HEADER_RECEIVED,
    HEADER_TS,
    connect,
    ensure_stream,
    partition_reader,
)

_log = logging.getLogger("intently.cluster")
_READER_CHECK_S = 3.0  # a quiet partition asks whether its consumer still exists this often
_CHUNK_BYTES = 512 * 1024  # a moving record's events go in messages of about this size


class Adoption(msgspec.Struct, frozen=True):
    """A record moving to another partition, in one or more messages: events first, the
    record itself in the last one."""

    request: str
    origin: int
    record_id: str
    by: str
    events: list[MovedEvent] = []
    record: bytes | None = None
    merges: list[tuple[str, str, str, float, int]] = []


_adoption = msgspec.msgpack.Decoder(Adoption)
_pack = msgspec.msgpack.Encoder().encode


@dataclass
class _Owned:
    lease: Lease
    store: PartitionStore
    engine: Engine
    reader: JetStreamContext.PullSubscription
    offset: int
    """The last stream position committed."""
    task: asyncio.Task[None] | None = None
    delivered: int = 0
    """The reader's consumer sequence last seen: a consumer without acknowledgements counts
    every message it sends, so a jump means messages were sent and never arrived (a
    connection dropped mid-delivery); the partition then reads again from `offset`."""
    forwards: dict[str, int] | None = None
    """Identity key -> the partition its record moved to (events for it go there)."""


class _Contacts(msgspec.Struct):
    email: Any = None
    phone: Any = None


class _Routing(msgspec.Struct):
    type: str = ""
    userId: str | int | None = None
    anonymousId: str | int | None = None
    previousId: str | int | None = None
    traits: _Contacts | None = None


_routing = msgspec.json.Decoder(_Routing)


def _forwarded(engine: Engine, forwards: dict[str, int], head: _Routing) -> int | None:
    """Where an event that reached this partition belongs, when its record moved away:
    the partition its user id was forwarded to; without a user id, that of the first of
    its email, phone and device that was (the keys a gateway routes by, `_homes`)."""
    if head.userId not in (None, ""):
        return forwards.get(f"u:{head.userId}")
    return next((to for k in _kept(engine, tuple(_head_keys(head)))
                 if (to := forwards.get(k)) is not None), None)


def _head_keys(head: _Routing) -> list[str]:
    """An event's identity keys as a gateway routes by them (`ordered_keys`), which is as
    an engine keeps them in memory."""
    traits = head.traits or _Contacts()
    device = head.anonymousId if head.anonymousId not in (None, "") else (
        head.previousId if head.type == "alias" else None)
    return ordered_keys(head.userId, traits.email, traits.phone, device)


def _keys(msg: Msg) -> list[str] | None:
    """An event's identity keys (None: it cannot be read)."""
    try:
        return _head_keys(_routing.decode(msg.data))
    except msgspec.DecodeError:
        return None


def _concerns(engine: Engine, kind: str, msg: Msg) -> set[str]:
    """The keys of the records a move or an adoption concerns, as an engine keeps them in
    memory: for a move, its key and those of the record here that holds it; for an
    adoption, the key it joins by, those of the record here that holds it and those of
    the record arriving."""
    try:
        if kind == "move":
            return _held(engine, str(msgspec.json.decode(msg.data)["key"]))
        adoption = _adoption.decode(msg.data)
        record = decode_profile(adoption.record) if adoption.record is not None else None
        return {*_held(engine, adoption.by), *(record.identities if record else ())}
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as exc:
        _log.warning("move or adoption unreadable; it concerns no record", extra={
            "kind": kind, "stream_seq": msg.metadata.sequence.stream, "error": repr(exc)})
        return set()


def _held(engine: Engine, key: str) -> set[str]:
    """`key` and the other keys of the record here that holds it."""
    pid = engine.state.lookup(key)
    profile = engine.state.peek(pid) if pid is not None else None
    return {key, *(profile.identities if profile is not None else ())}


def _reach(engine: Engine, named: set[str], heads: list[list[str] | None]) -> None:
    """Add to `named` what events not applied yet (their keys: `heads`) can join to it:
    the keys of those that name one of its keys, and the keys of the records holding
    theirs (an event that joins two records gives one all the other's keys), until
    nothing more is added."""
    grew = True
    while grew:
        grew = False
        for keys in heads:
            if keys and not named.isdisjoint(keys) and not named.issuperset(keys):
                for key in keys:
                    named |= _held(engine, key)
                grew = True


def _kept(engine: Engine, keys: tuple[str, ...]) -> list[str]:
    """Identity keys as the partition's tables keep them (digests, where they are sealed)."""
    store = engine.store
    ring = store.ring if isinstance(store, SealedStore) else None
    return [ring.key(k) for k in keys] if ring is not None else list(keys)


class ClusterWorker:
    def __init__(self, settings: Settings, *, name: str | None = None,
                 clock: Clock | None = None, fetch: int = 500) -> None:
        self.settings = settings
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.clock = clock or SystemClock()
        self.fetch = fetch
        self.conninfo, self.base = split_url(settings.db)
        self.owned: dict[int, _Owned] = {}
        self.applied = 0
        self.refused = 0  # events this worker's settings refuse (the gateway's accepted them)
        self.dropped = 0
        self.gaps = 0  # times a reader was found to have skipped messages (read again)
        self.moved_out = 0  # records sent to another partition
        self.adopted = 0  # records received from another partition
        self.forwarded = 0  # events passed on to the partition their record moved to
        self.kept_apart = 0  # moves refused (a key moved too recently)
        self._leases: Leases | None = None
        self._closing: list[asyncio.Future[None]] = []
        self._ended: list[_Owned] = []  # partitions let go of, whose tasks may still wait
        self.cache = RecordWriter(settings.cache, self.base) if settings.cache else None
        self._changed: dict[str, Profile] = {}  # records of the batch in hand, for the cache
        # each partition's engine holds its share of the records cache
        self._partition_settings = replace(
            settings, cache_profiles=max(1_000, settings.cache_profiles // settings.partitions))

    # -- the loop
    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set. PostgreSQL or NATS unreachable at the start or later is
        waited out (logged, retried), never a reason to exit."""
        nc = await self._start(stop)
        if nc is None:
            return
        js = nc.jetstream()
        beat_every = self.settings.lease_seconds / 3
        try:
            while not stop.is_set():  # the partitions' tasks run while this one waits
                await self._beat(js)
                if self._closing:
                    await asyncio.gather(*self._closing, return_exceptions=True)
                    self._closing.clear()
                self._ended = [o for o in self._ended if o.task is not None and not o.task.done()]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), beat_every)
        finally:
            self._give_back_all()
            await asyncio.gather(*(own.task for own in self._ended if own.task is not None),
                                 return_exceptions=True)
            await asyncio.gather(*self._closing, return_exceptions=True)
            self._closing.clear()
            try:
                await nc.drain()
            except (TimeoutError, nats.errors.Error, OSError):
                with contextlib.suppress(nats.errors.Error, OSError):  # the server is gone
                    await nc.close()

    async def _start(self, stop: asyncio.Event) -> nats.NATS | None:
        """The shared schema and the stream, once both servers answer (None: stopped first)."""
        wait = 0.5
        while not stop.is_set():
            try:
                await asyncio.to_thread(bootstrap, self.settings)
                nc = await connect(self.settings, self.name)
                try:
                    await ensure_stream(nc.jetstream(), self.settings)
                except BaseException:
                    await nc.close()
                    raise
                return nc
            except (psycopg.Error, StoreError, nats.errors.Error, OSError, TimeoutError) as exc:
                _log.error("cannot start yet; retrying", extra={
                    "worker": self.name, "error": repr(exc), "retry_s": wait})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            wait = min(wait * 2, 10.0)
        return None

    def _leases_db(self) -> Leases:
        if self._leases is None:
            self._leases = Leases(self.conninfo, self.base, self.settings.partitions,
                                  self.settings.lease_seconds)
        return self._leases

    async def _beat(self, js: JetStreamContext) -> None:
        """Say we are alive, renew what we hold, give back above our share, take free ones."""
        try:
            leases = self._leases_db()
            workers = leases.heartbeat(self.name)
            self._renew(leases)
            renewed = time.monotonic()
            share = leases.fair_share(workers)
            for part in sorted(self.owned, reverse=True)[: max(0, len(self.owned) - share)]:
                self._give_back(part)
            if len(self.owned) < share:
                for part in leases.free():
                    if len(self.owned) >= share:
                        break
                    if time.monotonic() - renewed > self.settings.lease_seconds / 3:
                        self._renew(leases)  # opening a partition replays its recent log:
                        renewed = time.monotonic()  # many in a row must not starve the others
                    lease = leases.take(part, self.name)
                    if lease is not None:
                        await self._open_or_release(js, lease, leases)
        except (psycopg.Error, StoreError) as exc:  # the database went away, or is back
            _log.error("PostgreSQL unreachable; partitions dropped, retrying",  # in a state
                       extra={"worker": self.name, "error": str(exc).strip()})  # we left
            for part in list(self.owned):
                self._drop(part, "database unreachable")
            if self._leases is not None:
                with contextlib.suppress(psycopg.Error):
                    self._leases.close()
                self._leases = None
        except (nats.errors.Error, OSError, TimeoutError) as exc:  # a partition's reader
            _log.error("NATS unreachable while taking partitions; retrying",  # not opened
                       extra={"worker": self.name, "error": repr(exc)})

    def _renew(self, leases: Leases) -> None:
        for part, own in list(self.owned.items()):
            if not leases.renew(own.lease):
                self._drop(part, "lease lost")

    async def _open_or_release(self, js: JetStreamContext, lease: Lease, leases: Leases
                               ) -> None:
        """Open a partition just taken; if that fails, say why and give the lease back at
        once (another worker, or this one at its next beat, tries again)."""
        try:
            await self._open(js, lease)
        except Exception as exc:
            _log.error("partition not opened; its lease is released", extra={
                "worker": self.name, "partition": lease.partition, "error": repr(exc)})
            with contextlib.suppress(psycopg.Error):
                leases.release(lease)
            if isinstance(exc, psycopg.OperationalError):
                raise  # the database is away: the beat's handler drops everything

    async def _open(self, js: JetStreamContext, lease: Lease) -> None:
        part = lease.partition
        url = with_schema(self.settings.db, partition_schema(self.base, part))
        store = PartitionStore(url, lease, self.base, durability=self.settings.durability)
        try:
            engine = Engine(store, settings=self._partition_settings, clock=self.clock)
            if self.cache is not None:
                engine.listeners.append(self._note_changed)
            reader = await partition_reader(js, self.settings, part, lease.stream_seq)
        except BaseException:
            store.close()
            raise
        own = self.owned[part] = _Owned(lease, store, engine, reader, lease.stream_seq,
                                        forwards=store.forwards())
        own.task = asyncio.create_task(self._serve(js, part, own))
        _log.info("partition taken", extra={"worker": self.name, "partition": part,
                                            "epoch": lease.epoch, "from": lease.stream_seq,
                                            "replayed": engine.recovered})

    async def _serve(self, js: JetStreamContext, part: int, own: _Owned) -> None:
        """One partition's loop, as long as this worker holds it: read what came, apply it,
        fire due timers. Engine calls never overlap (they do not await)."""
        ticked = checked = time.monotonic()
        while self.owned.get(part) is own:
            msgs = await self._fetch(own)
            if self.owned.get(part) is not own:  # dropped or given back while it waited
                return
            if msgs == [] and time.monotonic() - checked >= _READER_CHECK_S:
                checked = time.monotonic()  # quiet for a while: is the consumer still there?
                msgs = None if not await self._reader_alive(own) else msgs
            if msgs and not self._contiguous(own, msgs):
                msgs = None  # delivered but lost on the way: nothing of it is applied
            if msgs is None:  # the reader broke (a restarted server): read again from the
                await self._reopen_reader(js, part, own)  # last commit
                continue
            try:
                if msgs:
                    await self._apply(js, own, msgs)
                if msgs or time.monotonic() - ticked >= 0.5:
                    ticked = time.monotonic()
                    own.engine.tick()
                    own.engine.maybe_checkpoint()
                    own.engine.privacy.retention.apply_if_due()
            except Exception as exc:
                self._drop(part, f"{type(exc).__name__}: {exc}")
                return

    async def _fetch(self, own: _Owned) -> list[Msg] | None:
        try:
            return await own.reader.fetch(self.fetch, timeout=1.0)  # back at the first message
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        except Exception as exc:
            _log.warning("partition read failed; reading again from the last commit",
                         extra={"worker": self.name, "partition": own.lease.partition,
                                "error": repr(exc)})
            return None

    def _contiguous(self, own: _Owned, msgs: list[Msg]) -> bool:
        """Whether these messages follow the last ones without a gap in the consumer's count;
        if so, they are the new last ones."""
        expected = own.delivered + 1
        for msg in msgs:
            seq = msg.metadata.sequence.consumer
            if seq != expected:
                _log.warning("partition reader skipped messages; reading again from the last "
                             "one applied", extra={
                                 "worker": self.name, "partition": own.lease.partition,
                                 "expected": expected, "got": seq, "from": own.offset})
                self.gaps += 1
                return False
            expected += 1
        own.delivered = expected - 1
        return True

    async def _reader_alive(self, own: _Owned) -> bool:
        """Whether the partition's consumer still exists on the server: a server restarted
        without it leaves fetches timing out as if nothing came."""
        try:
            await own.reader.consumer_info()
            return True
        except Exception as exc:
            _log.warning("partition reader lost; reading again from the last commit", extra={
                "worker": self.name, "partition": own.lease.partition, "error": repr(exc)})
            return False

    async def _reopen_reader(self, js: JetStreamContext, part: int, own: _Owned) -> None:
        with contextlib.suppress(Exception):  # the old consumer may be gone with the server
            await own.reader.unsubscribe()
        try:
            own.reader = await partition_reader(js, self.settings, part, own.offset)
            own.delivered = 0
        except Exception as exc:
            _log.warning("partition reader not reopened yet", extra={
                "worker": self.name, "partition": part, "error": repr(exc)})
            await asyncio.sleep(0.2)

    async def _apply(self, js: JetStreamContext, own: _Owned, msgs: list[Msg]) -> None:
        """Events in commits; a privacy request or definition among them is applied in its
        place. Moves and adoptions are gathered and applied together (before the next
        privacy request or definition, or at the fetch's end), so a move storm (many
        devices signing in) costs a few transactions per fetch instead of a few per record.
        The events after them that name a record they concern (or a key such an event
        names) wait until they are applied: a record moves as it was at its move's place in
        the stream, whatever the fetches' sizes, so a move done again after a crash sends
        the same messages (the stream keeps the first of each id). Until they are applied,
        the partition's position stays before the first of them."""
        run: list[Msg] = []
        heads: list[list[str] | None] = []  # the keys of `run`'s first events, once read
        later: list[Msg] = []  # events that wait for the moves and adoptions
        moves: list[Msg] = []
        adopts: list[Msg] = []
        named: set[str] = set()  # the keys of the records they concern
        store = own.store
        for msg in msgs:
            kind = (msg.headers or {}).get(HEADER_CONTROL)
            if kind is None:
                if named:  # read only while moves or adoptions wait
                    keys = _keys(msg)
                    if keys is None or not named.isdisjoint(keys):
                        later.append(msg)
                        for key in keys or ():
                            named |= _held(own.engine, key)
                        continue
                run.append(msg)
                continue
            if kind in ("move", "adopt"):
                if store.ceiling is None:
                    store.ceiling = msg.metadata.sequence.stream - 1
                (moves if kind == "move" else adopts).append(msg)
                named |= _concerns(own.engine, kind, msg)
                heads += map(_keys, run[len(heads):])
                _reach(own.engine, named, heads)  # the events before it, not applied yet
                continue
            if run:
                await self._apply_events(js, own, run)
                run, heads = [], []
            if moves or adopts:
                await self._settle(js, own, moves, adopts, later,
                                   msg.metadata.sequence.stream - 1)
                moves, adopts, later, named = [], [], [], set()
            self._control(own, kind, msg)
        if run:
            await self._apply_events(js, own, run)
        if moves or adopts:
            await self._settle(js, own, moves, adopts, later, msgs[-1].metadata.sequence.stream)
        own.offset = msgs[-1].metadata.sequence.stream

    async def _settle(self, js: JetStreamContext, own: _Owned, moves: list[Msg],
                      adopts: list[Msg], later: list[Msg], position: int) -> None:
        """Apply the moves and adoptions gathered, then the events that waited for them,
        then let the position pass everything up to `position` (done again after a crash,
        they change nothing more)."""
        if adopts:
            self._adopt(own, adopts)
        if moves:
            await self._move_out(js, own, moves)
        own.store.ceiling = None
        if later:
            await self._apply_events(js, own, later)
        own.store.advance(position)

    def _control(self, own: _Owned, kind: str, msg: Msg) -> None:
        """A request sent to every partition, applied here to what this one holds, in order
        with its events: a privacy request (`erase`, `suppress`, `unsuppress`, `export`: an
        export writes every record, so that the tables hold what it holds, for the gateway
        to read), or a changed segment or scenario (`define`). Applied again after a
        takeover, it changes nothing more and is journaled once."""
        part = own.lease.partition
        try:
            req = msgspec.json.decode(msg.data)
            request_id, actor = f"{req['request']}:p{part}", str(req.get("actor", ""))
            identifier = str(req["identifier"]) if kind != "define" else ""
        except (msgspec.DecodeError, KeyError, TypeError) as exc:
            _log.error("control message unreadable; skipped", extra={
                "partition": part, "kind": kind, "stream_seq": msg.metadata.sequence.stream,
                "error": repr(exc)})
            return
        own.store.offsets = {request_id: msg.metadata.sequence.stream}
        privacy = own.engine.privacy
        if kind == "erase":
            # what records that moved away left here goes first: the erasure's journal row
            # commits last, with the position past this request, so that a crash between
            # the two applies the request again rather than leave those rows and the keys'
            # homes behind (and a reader of the journal sees the erasure only when it is done)
            moved = own.store.erase_moved(_kept(own.engine, tuple(
                privacy.erased_keys(identifier))))
            report = privacy.erase(identifier, actor=actor, request_id=request_id,
                                   suppress=bool(req.get("suppress", True)))
            if moved:
                _log.info("erased what records moved away left", extra={
                    "partition": part, "rows": moved})
            if own.forwards:
                own.forwards = own.store.forwards()
            if self.cache is not None:
                self.cache.forget(report.record_ids, report.keys)
        elif kind == "suppress":
            privacy.suppress(identifier, actor=actor, request_id=request_id)
        elif kind == "unsuppress":
            privacy.unsuppress(identifier, actor=actor, request_id=request_id)
        elif kind == "define":  # a segment or scenario changed: applied here, in order
            try:
                apply_definition(own.engine, req)
            except Exception as exc:  # checked by the gateway: a bug, logged, never a stop
                _log.error("definition not applied", extra={
                    "partition": part, "name": req.get("name"), "error": repr(exc)})
        elif kind == "export":  # the gateway reads the tables once every owner answered
            own.engine.checkpoint()
            own.engine.store.log_request(privacy.request("export", identifier, actor,
                                                         request_id))
        else:
            _log.error("unknown control message; skipped", extra={"partition": part,
                                                                   "kind": kind})

    async def _apply_events(self, js: JetStreamContext, own: _Owned, msgs: list[Msg]) -> None:
        """Commit the events in order. Those whose record moved to another partition are
        forwarded there first. One this worker cannot read (not from a gateway of this
        version) is set aside in its place, with the events before it committed first (the
        partition's position never passes an event not committed)."""
        if own.forwards:
            msgs = await self._forward(js, own, msgs)
            if not msgs:
                return
        events: list[Event] = []
        raws: list[bytes | None] = []
        offsets: dict[str, int] = {}
        for msg in msgs:
            seq = msg.metadata.sequence.stream
            headers = msg.headers or {}
            try:
                ev = from_log(msg.data, float(headers[HEADER_TS]),
                              float(headers[HEADER_RECEIVED]))
            except Exception as exc:
                self._commit(own, events, raws, offsets)
                events, raws, offsets = [], [], {}
                self._set_aside(own, msg.data, str(headers.get("Nats-Msg-Id") or
                                                   f"stream-{seq}"), seq,
                                f"unreadable stream message: {exc!r}", self.clock.now())
                continue
            events.append(ev)
            raws.append(msg.data)
            offsets[ev.message_id or ""] = seq
        self._commit(own, events, raws, offsets)
        if self.cache is not None and self._changed:  # committed: now readable
            self.cache.write(self._changed.values())
            self._changed.clear()

    async def _forward(self, js: JetStreamContext, own: _Owned, msgs: list[Msg]) -> list[Msg]:
        """Publish the events whose record moved away to its partition (with an id of their
        own: the stream saw theirs); the rest, to apply here."""
        forwards = own.forwards or {}
        kept: list[Msg] = []
        away: list[tuple[Msg, int]] = []
        for msg in msgs:
            try:
                head = _routing.decode(msg.data)
            except msgspec.DecodeError:
                kept.append(msg)  # set aside where it is applied
                continue
            to = _forwarded(own.engine, forwards, head)
            if to is None:
                kept.append(msg)
            else:
                away.append((msg, to))
        if not away:
            return msgs
        s = self.settings
        await asyncio.gather(*(js.publish(
            f"{s.stream_subject}.{to}", msg.data, headers={
                **(msg.headers or {}),
                "Nats-Msg-Id": f"{(msg.headers or {}).get('Nats-Msg-Id', '')}>p{to}"})
            for msg, to in away))
        self.forwarded += len(away)
        if not kept:  # the position passes them, written under the fence
            own.store.advance(away[-1][0].metadata.sequence.stream)
        return kept

    # -- records moving between partitions
    async def _move_out(self, js: JetStreamContext, own: _Owned, msgs: list[Msg]) -> None:
        """Send each record that holds a key asked for to the partition of the person it
        joined: their events and records go first (acknowledged), then one fenced
        transaction deletes them here, leaves forwarding entries and points the keys' homes
        there. A key that moved here within `identity_move_seconds` stays (the records stay
        apart, logged). Done again after a takeover, it sends the same messages
        (deduplicated there)."""
        part = own.lease.partition
        asked: dict[str, tuple[str, int, str, str]] = {}  # key -> (request, to, by, user)
        for msg in msgs:  # the first ask of each key counts
            try:
                req = msgspec.json.decode(msg.data)
                by = str(req["by"])
                user = str(req.get("user", by if by.startswith("u:") else ""))
                asked.setdefault(str(req["key"]), (str(req["request"]), int(req["to"]), by,
                                                   user))
            except (msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
                _log.error("move message unreadable; skipped", extra={
                    "partition": part, "stream_seq": msg.metadata.sequence.stream,
                    "error": repr(exc)})
        forwards = own.forwards if own.forwards is not None else {}
        now = self.clock.now()
        kept = dict(zip(asked, _kept(own.engine, tuple(asked)), strict=True))
        recent = own.store.moved_since(list(kept.values()),
                                       now - self.settings.identity_move_seconds)
        engine = own.engine
        engine.checkpoint()  # the store holds what the records hold
        going: list[tuple[Leaving | None, list[str], int]] = []
        sends: list[tuple[Leaving, str, int, str]] = []
        taken: set[str] = set()  # records already going (two of their keys asked)
        for key, (request, to, by, user) in asked.items():
            if to == part or kept[key] in forwards:
                continue
            if kept[key] in recent:
                self.kept_apart += 1
                _log.warning("identity moved here too recently; the records stay apart",
                             extra={"partition": part, "to": to})
                continue
            gone = leaving(engine, key)
            if gone is not None and gone.record.id in taken:
                continue
            keys = [kept[key]]
            if gone is not None and gone.record.user_id is not None and (
                    f"u:{gone.record.user_id}" != user):
                gone = None  # someone else's record: only the key goes on (a shared device,
                release(engine, key)  # a shared email), as in an embedded engine
            if gone is not None:
                taken.add(gone.record.id)
                keys = sorted({*_kept(engine, (*gone.keys, by))} - {""})
                sends.append((gone, request, to, by))
            going.append((gone, keys, to))
        if not going:
            return
        await asyncio.gather(*(self._send_record(js, own, gone, request, to, by)
                               for gone, request, to, by in sends))
        engine.checkpoint()  # the records that let a key go
        own.store.move_out(going, now)
        for gone, keys, to in going:
            if gone is not None:
                forget(engine, gone)
                self.moved_out += 1
                if self.cache is not None:
                    self.cache.forget(gone.record_ids, gone.keys)
            forwards.update(dict.fromkeys(keys, to))
        own.forwards = forwards
        _log.info("records moved", extra={"partition": part, "records": len(sends),
                                          "keys": len(going) - len(sends)})

    async def _send_record(self, js: JetStreamContext, own: _Owned, gone: Leaving,
                           request: str, to: int, by: str) -> None:
        chunks: list[list[MovedEvent]] = [[]]
        size = 0
        for e in gone.events:
            if size > _CHUNK_BYTES:
                chunks.append([])
                size = 0
            chunks[-1].append(e)
            size += len(e.payload) + 64
        s = self.settings
        base = Adoption(request, own.lease.partition, gone.record.id, by)
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            body = msgspec.structs.replace(
                base, events=chunk, record=encode_profile(gone.record) if last else None,
                merges=[(m.into_id, m.from_id, m.reason, m.ts, m.head) for m in gone.merges]
                if last else [])
            await js.publish(f"{s.stream_subject}.{to}", _pack(body),
                             headers={"Nats-Msg-Id": f"{request}:adopt:{i}",
                                      HEADER_CONTROL: "adopt"})

    def _adopt(self, own: _Owned, msgs: list[Msg]) -> None:
        """Records moving here: their events are logged (already counted), then each record
        is merged into the person's (or kept as it is)."""
        part = own.lease.partition
        adoptions: list[Adoption] = []
        arrivals: list[Arrival] = []
        for msg in msgs:
            try:
                adoption = _adoption.decode(msg.data)
                if adoption.record is not None:
                    arrivals.append(Arrival(
                        decode_profile(adoption.record),
                        tuple(Merge(*m) for m in adoption.merges), adoption.by,
                        f"moved from partition {adoption.origin}"))
                adoptions.append(adoption)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                _log.error("moved record unreadable; skipped", extra={
                    "partition": part, "stream_seq": msg.metadata.sequence.stream,
                    "error": repr(exc)})
        engine = own.engine
        engine.checkpoint()
        adopt_events(engine, [(a.record_id, a.events) for a in adoptions if a.events])
        if not arrivals:
            return
        targets = adopt_records(engine, arrivals)
        self.adopted += len(arrivals)
        if self.cache is not None and targets:
            self.cache.write(targets)

    def _commit(self, own: _Owned, events: list[Event], raws: list[bytes | None],
                offsets: dict[str, int]) -> None:
        if not events:
            return
        own.store.offsets = offsets
        try:
            self.applied += own.engine.commit_batch(events, raws).accepted
        except ValidationError:  # limits stricter than the gateway's: one at a time, so
            for ev, raw in zip(events, raws, strict=True):  # the rest goes on
                try:
                    self.applied += own.engine.commit_batch([ev], [raw]).accepted
                except ValidationError as exc:
                    mid = ev.message_id or ""
                    self._set_aside(own, raw or b"", mid, offsets.get(mid, 0),
                                    f"refused by this worker's limits: {exc}",
                                    ev.received_at, ev.ts)

    def _set_aside(self, own: _Owned, raw: bytes, message_id: str, seq: int, error: str,
                   received_at: float, ts: float | None = None) -> None:
        """An accepted event this worker does not apply: kept in the partition's log, set
        aside with its error (`intently events set-aside`), and the partition goes on."""
        self.refused += 1
        _log.error("event set aside by the worker", extra={
            "partition": own.lease.partition, "stream_seq": seq, "error": error})
        own.store.offsets = {message_id: seq}
        own.engine.set_aside_raw(raw, message_id, error, received_at, ts=ts)

    def _note_changed(self, processed: list[Processed]) -> None:
        """An engine listener: the records a commit changed (called after it committed)."""
        for p in processed:
            self._changed[p.profile.id] = p.profile

    # -- letting go
    def _drop(self, part: int, why: str) -> None:
        """Forget a partition without writing anything (its commits would be refused)."""
        own = self.owned.pop(part, None)
        if own is None:
            return
        self._stop_reading(own)
        self.dropped += 1
        _log.warning("partition dropped", extra={"worker": self.name, "partition": part,
                                                 "epoch": own.lease.epoch, "why": why})
        with contextlib.suppress(Exception):  # a broken connection: nothing left to close
            own.store.close()

    def _give_back(self, part: int) -> None:
        """Write what the partition holds, then release its lease for another worker."""
        own = self.owned.get(part)
        if own is None:
            return
        try:
            own.engine.checkpoint()
            own.store.close()
            self.owned.pop(part, None)
            self._stop_reading(own)
            self._leases_db().release(own.lease)
            _log.info("partition given back", extra={"worker": self.name, "partition": part})
        except Exception as exc:
            self._drop(part, f"give back failed: {exc}")

    def _stop_reading(self, own: _Owned) -> None:
        """End the partition's subscription (its ephemeral consumer goes after a while); its
        task ends when it next wakes."""
        self._closing.append(asyncio.ensure_future(own.reader.unsubscribe()))
        self._ended.append(own)

    def _give_back_all(self) -> None:
        for part in list(self.owned):
            self._give_back(part)
        with contextlib.suppress(psycopg.Error):
            self._leases_db().leave(self.name)
        if self._leases is not None:
            self._leases.close()
            self._leases = None
        if self.cache is not None:
            self.cache.close()

