"""Retention: raw fields (IP address, user agent, location) dropped from stored events after
`retention_raw_days`, and whole events deleted after `retention_events_days`. The work is
incremental: a cursor in the catalog remembers how far the log was scrubbed, so each run reads
only what aged since the last."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from ._runner import Runner

_log = logging.getLogger("intently.privacy")
CURSOR = "retention.scrubbed_seq"
EVERY_S = 3600.0


@dataclass(frozen=True)
class RetentionReport:
    scrubbed: int
    """events whose raw fields were dropped"""
    dropped: int
    """events deleted"""
    scrubbed_up_to: int
    """the log position scrubbing has reached"""


def strip(payload: bytes, paths: Sequence[tuple[str, ...]]) -> bytes | None:
    """The payload without these dotted paths, or None when it holds none of them."""
    if not any(f'"{p[-1]}"'.encode() in payload for p in paths):
        return None
    try:
        data: Any = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return None
    changed = False
    for path in paths:
        node = data
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and path[-1] in node:
            del node[path[-1]]
            changed = True
    return msgspec.json.encode(data) if changed else None


class Retention:
    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._last = -EVERY_S

    def apply_if_due(self) -> RetentionReport | None:
        """Run at most hourly (the server calls this between commits)."""
        s = self._runner.settings
        if not (s.retention_raw_days > 0 or s.retention_events_days > 0):
            return None
        if time.monotonic() - self._last < EVERY_S or self._runner.readonly:
            return None
        self._last = time.monotonic()
        try:
            return self.apply()
        except Exception:  # retried at the next hour; ingestion goes on
            _log.exception("retention failed; tried again later")
            return None

    def apply(self, now: float | None = None) -> RetentionReport:
        runner = self._runner
        store, s = runner.store, runner.settings
        now = runner.clock.now() if now is None else now
        cursor = int(store.get_meta(CURSOR) or 0)
        scrubbed = dropped = 0
        if s.retention_raw_days > 0:
            cutoff = now - s.retention_raw_days * 86400.0
            paths = [tuple(f.split(".")) for f in s.retention_raw_fields]
            for rows in store.read_log(after=cursor, batch=2000):
                aged = [r for r in rows if r.received_at < cutoff]
                changed = [(r.seq, new) for r in aged
                           if (new := strip(r.payload, paths)) is not None]
                if changed:
                    store.rewrite_payloads(changed)
                    scrubbed += len(changed)
                if aged:
                    cursor = aged[-1].seq
                    store.set_meta(CURSOR, str(cursor))
                if len(aged) < len(rows):
                    break  # the log is in receive order: the rest is younger
        if s.retention_events_days > 0:
            dropped = store.drop_events(now - s.retention_events_days * 86400.0,
                                        store.checkpoint_seq())
            if dropped:
                runner.recount()
        report = RetentionReport(scrubbed, dropped, cursor)
        if scrubbed or dropped:
            _log.info("retention applied", extra=report.__dict__)
        return report
