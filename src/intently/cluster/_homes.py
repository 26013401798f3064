"""Where each customer lives: the directory of homes, and how a gateway routes by it.

Every key a gateway has seen (user id `u:…`, email `e:…`, phone `p:…`, device id `a:…`; emails
and phones as keyed digests when the cluster seals) has a home partition in the shared
schema's `homes` table. An event goes to the home of its first person key that has one (user
id, email, phone), else of its device; keys seen for the first time are filed under the
partition the event goes to (a new customer: the hash of the device id, as `partition_of`
says). So a device's journey before sign-in and the person's later events meet in one
partition.

When an event joins a key homed in one partition with keys homed in others (a second device
signs in, a phone gives an email known elsewhere), the event goes to the home it routes by,
and the gateway sends a `move` control message to each other key's home: that partition's
owner sends the key's record there and leaves forwarding entries (`_moves`). The directory is
changed by the owner, in its fenced transaction, so it never points at a partition that does
not hold the record yet; until then the key's events still go to the old home, which forwards
them.

Gateways cache homes for `HOME_TTL_S`: a stale entry costs a forwarded hop, never a lost
event."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg

from ..events import Event
from ..profiles import contact_keys
from ..store import SEALING_META, Keyring, keyring
from ._layout import partition_of

_log = logging.getLogger("intently.cluster")
HOME_TTL_S = 60.0
"""How long a gateway trusts a home it read (moves change homes)."""
CACHE_MAX = 500_000
"""Homes a gateway keeps in memory (the oldest half goes when it is full)."""


@dataclass(frozen=True)
class Move:
    """The record that holds `key` in partition `home`, to move to partition `to`, where
    the event's record is found by `by` (the key the event was routed by). `user`: the
    event's user key ("" when it has none): a record with another user id stays, and only
    its `key` moves (as an embedded engine moves a shared device or email). `request`: its
    id (a resend of the event sends the same one)."""

    request: str
    key: str
    home: int
    to: int
    by: str
    user: str = ""


def routing_keys(ev: Event) -> list[str]:
    """The event's keys in the order they decide its home (`ordered_keys`)."""
    traits = ev.traits or {}
    device = ev.anonymous_id or (ev.previous_id if ev.type == "alias" else None)
    return ordered_keys(ev.user_id, traits.get("email"), traits.get("phone"), device)


def ordered_keys(user_id: object, email: object, phone: object, device: object) -> list[str]:
    """Identity keys in the order they decide a home: the person keys (user id, email,
    phone: the keys an embedded engine joins records by), then the device (for an `alias`
    call, its previous id). Gateways route by them; a partition forwards by them."""
    keys = [f"u:{user_id}"] if user_id not in (None, "") else []
    keys += contact_keys(email, phone)
    if device not in (None, ""):
        keys.append(f"a:{device}")
    return keys


def plan(events: list[Event], homes: dict[str, int], partitions: int
         ) -> tuple[list[int], dict[str, int], list[Move]]:
    """Each event's partition, the keys to file (key -> home) and the moves, given the
    homes known (`homes` is not changed). An event goes to the home of its first person key
    that has one, else of its device, else to the hash of its device (`partition_of`: a new
    customer). Its other keys homed elsewhere move there. Events are taken in order: a key
    filed by one event is home for the next, and a key asked to move goes to its new home
    for the rest of the request."""
    parts: list[int] = []
    new: dict[str, int] = {}
    moves: list[Move] = []
    moving: dict[str, int] = {}

    def home(key: str) -> int | None:
        found = moving.get(key, new.get(key))
        return homes.get(key) if found is None else found

    for ev in events:
        keys = routing_keys(ev)
        anchor = next((k for k in keys if home(k) is not None), None)
        part = partition_of(ev, partitions) if anchor is None else home(anchor)
        assert part is not None
        user = f"u:{ev.user_id}" if ev.user_id else ""
        n = 0  # the event's moves: ids `<message id>:move`, `:move1`, ...
        for key in keys:
            found = home(key)
            if found is None:
                new[key] = part
            elif found != part:
                moving[key] = part
                moves.append(Move(f"{ev.message_id}:move{n or ''}", key, found, part,
                                  anchor, user))  # type: ignore[arg-type]
                n += 1
        parts.append(part)
    return parts, new, moves


class Homes:
    """A gateway's view of the directory: a cache over the `homes` table, and the filing of
    new keys (the first gateway to file a key wins; the others read its choice). Requests
    whose keys are all cached touch no database; the others use one of `connections`
    connections, on the event loop."""

    def __init__(self, conninfo: str, schema: str, partitions: int,
                 connections: int = 4, encryption_keys: Sequence[str] = ()) -> None:
        self._conninfo = conninfo
        self._table = f"{schema}.homes"
        self._meta = f"{schema}.meta"
        self._keys = tuple(encryption_keys)
        self._ring: Keyring | None = None
        self.partitions = partitions
        self._cache: dict[str, tuple[int, float]] = {}
        self._idle: asyncio.LifoQueue[psycopg.AsyncConnection[tuple[object, ...]] | None] = (
            asyncio.LifoQueue())
        for _ in range(connections):
            self._idle.put_nowait(None)  # opened when first needed
        self._open: list[psycopg.AsyncConnection[tuple[object, ...]]] = []
        self.filed = 0
        self.moves = 0

    def cached(self, events: list[Event]) -> dict[str, int] | None:
        """The homes of these events' keys from memory, or None when one must be read."""
        now = time.monotonic()
        cache = self._cache
        found: dict[str, int] = {}
        for ev in events:
            for key in routing_keys(ev):
                if key in found:
                    continue
                hit = cache.get(key)
                if hit is None or now - hit[1] > HOME_TTL_S:
                    return None
                found[key] = hit[0]
        return found

    async def route(self, events: list[Event]) -> tuple[list[int], list[Move]]:
        """Each event's partition, and the moves to send (after the events are stored). New
        keys are filed in the directory first."""
        homes = self.cached(events)
        if homes is not None:  # every key known: nothing new to file
            parts, _, moves = plan(events, homes, self.partitions)
            return parts, moves
        db = await self._idle.get()
        try:
            if db is None or db.closed:
                db = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, application_name="intently-gateway")
                self._open.append(db)
            homes = await self._read(db, events)
            for _ in range(3):  # another gateway may file a key first: plan again
                parts, new, moves = plan(events, homes, self.partitions)
                if not new:
                    return parts, moves
                winners = await self._file(db, new)
                lost = {k: p for k, p in winners.items() if new[k] != p}
                homes = {**homes, **winners}
                if not lost:
                    return parts, moves
                _log.info("homes filed by another gateway first; routing again",
                          extra={"keys": len(lost)})
            return parts, moves
        except psycopg.Error:
            if db is not None:
                await db.close()
            db = None
            raise
        finally:
            self._idle.put_nowait(db)

    async def _read(self, db: psycopg.AsyncConnection[tuple[object, ...]],
                    events: list[Event]) -> dict[str, int]:
        keys = {k for ev in events for k in routing_keys(ev)}
        if not keys:
            return {}
        kept = await self._kept(db, keys)
        cur = await db.execute(f"SELECT key, part FROM {self._table} "  # type: ignore[arg-type]
                               "WHERE key = ANY(%s)", (sorted(kept),))
        found = {kept[str(k)]: int(p) for k, p in await cur.fetchall()}  # type: ignore[call-overload]
        self._remember(found)
        return found

    async def _file(self, db: psycopg.AsyncConnection[tuple[object, ...]],
                    new: dict[str, int]) -> dict[str, int]:
        """File keys (the first filing wins); every key's home afterwards."""
        kept = await self._kept(db, new)
        rows = sorted(kept)
        cur = await db.execute(
            f"INSERT INTO {self._table} (key, part) "  # type: ignore[arg-type]
            "SELECT * FROM unnest(%s::text[], %s::int[]) "
            "ON CONFLICT (key) DO UPDATE SET key = excluded.key RETURNING key, part",
            (rows, [new[kept[k]] for k in rows]))
        found = {kept[str(k)]: int(p) for k, p in await cur.fetchall()}  # type: ignore[call-overload]
        self.filed += len(found)
        self._remember(found)
        return found

    async def _kept(self, db: psycopg.AsyncConnection[tuple[object, ...]],
                    keys: Iterable[str]) -> dict[str, str]:
        """Each key as the directory keeps it -> the key: emails and phones as the keyed
        digests the partitions keep them as, when the cluster seals."""
        if self._keys and self._ring is None:
            cur = await db.execute(f"SELECT value FROM {self._meta} "  # type: ignore[arg-type]
                                   "WHERE key = %s", (SEALING_META,))
            row = await cur.fetchone()
            self._ring = keyring(str(row[0]) if row else None, self._keys)
        ring = self._ring
        return {ring.key(k) if ring is not None else k: k for k in keys}

    def _remember(self, found: dict[str, int]) -> None:
        cache = self._cache
        if len(cache) + len(found) > CACHE_MAX:
            for key in list(cache)[: len(cache) // 2]:
                del cache[key]
        now = time.monotonic()
        for key, part in found.items():
            cache[key] = (part, now)

    async def close(self) -> None:
        for db in self._open:
            if not db.closed:
                await db.close()
        self._open.clear()
