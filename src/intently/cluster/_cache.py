"""Hot reads for real-time decisions: Redis holds the records the workers last committed.

After each commit a worker writes the records its batch changed (`rec:<id>`, the record as it
is checkpointed) and each of their identity keys (`id:<key>` -> record id), in one pipeline.
A gateway answers `POST /v1/decide` from them without touching PostgreSQL. Redis is never the
source of truth: it can be flushed, and fills again as customers act (a customer not seen
since is decided on as unknown). Keys carry the cluster's schema name, so clusters can share a
Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis
import redis.asyncio as aioredis

from ..profiles import Profile, decode_profile, encode_profile, find_keys

_log = logging.getLogger("intently.cluster")


def _lookups(prefix: str, who: str) -> list[str]:
    """The keys an identifier may be filed under, as `Engine.find` tries them."""
    return [f"{prefix}id:{k}" for k in find_keys(who)]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RecordWriter:
    """The worker's side: write changed records after each commit (synchronous client)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.prefix = f"{prefix}:"
        self._redis = redis.Redis.from_url(url, socket_timeout=2.0,
                                           socket_connect_timeout=2.0)
        self.failures = 0

    def write(self, profiles: Iterable[Profile]) -> None:
        """Best effort: a failure is logged and counted, never stops the worker (the records
        are written again at their next change)."""
        p = self.prefix
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for profile in profiles:
                    pipe.set(f"{p}rec:{profile.id}", encode_profile(profile))
                    for key in profile.identities:
                        pipe.set(f"{p}id:{key}", profile.id)
                pipe.execute()
        except redis.RedisError as exc:
            self.failures += 1
            _log.warning("decision cache not written", extra={"error": repr(exc)})

    def forget(self, record_ids: Iterable[str], keys: Iterable[str]) -> None:
        """Delete erased records and their identity keys. A failure is logged: the entries
        would otherwise answer decisions until Redis is flushed, so it is an error."""
        p = self.prefix
        names = [f"{p}rec:{pid}" for pid in record_ids] + [f"{p}id:{k}" for k in keys]
        names += [f"{p}id:m:{pid}" for pid in record_ids]
        if not names:
            return
        try:
            self._redis.delete(*names)
        except redis.RedisError as exc:
            self.failures += 1
            _log.error("erased records not removed from the decision cache; flush it",
                       extra={"error": repr(exc)})

    def close(self) -> None:
        self._redis.close()


class RecordReader:
    """The gateway's side: a record by any identifier, in two round trips at most."""

    def __init__(self, url: str, prefix: str) -> None:
        self.prefix = f"{prefix}:"
        self._redis = aioredis.Redis.from_url(url, socket_timeout=0.5,
                                              socket_connect_timeout=0.5)

    async def find(self, who: str) -> Profile | None:
        """The record `who` names (a record id, user id, anonymous id, email or phone), or
        None when the cache does not know it or cannot be reached (decided as unknown)."""
        p = self.prefix
        try:
            found = await self._redis.mget([f"{p}rec:{who}", *_lookups(p, who)])
            blob = found[0]
            if blob is None:
                pid = next((v for v in found[1:] if v is not None), None)
                if pid is None:
                    return None
                blob = await self._redis.get(f"{p}rec:{_text(pid)}")
                if blob is None:
                    return None
        except redis.RedisError as exc:
            _log.warning("decision cache unreachable; deciding without the record",
                         extra={"error": repr(exc)})
            return None
        return decode_profile(blob if isinstance(blob, bytes) else blob.encode())

    async def offers_given(self, customer: str, now: float) -> int | None:
        """Offers this customer got in the 24 h before `now`, from every gateway (a sorted
        set per customer in Redis); None when Redis cannot be reached (each gateway counts
        in memory meanwhile)."""
        key = f"{self.prefix}offers:{customer}"
        try:  # one command on the decision's path; trimmed when offers are noted
            count = await self._redis.zcount(key, f"({now - 86400.0}", "+inf")
        except redis.RedisError as exc:
            _log.warning("offer count unreachable; counting in this gateway",
                         extra={"error": repr(exc)})
            return None
        return int(count)

    async def note_offers(self, customer: str, now: float, ids: list[str]) -> None:
        """Count offers given now (best effort: the next count may miss them on a failure)."""
        key = f"{self.prefix}offers:{customer}"
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zadd(key, {i: now for i in ids})
                pipe.zremrangebyscore(key, "-inf", now - 86400.0)
                pipe.expire(key, 86400 + 3600)
                await pipe.execute()
        except redis.RedisError as exc:
            _log.warning("offers given not counted", extra={"error": repr(exc)})

    async def close(self) -> None:
        await self._redis.aclose()
