"""The outbox dispatcher: delivers what the pipeline committed, with retries.

Messages enter the outbox in the same transaction as the events that caused them, so a crash
loses none; their ids are derived from (scenario, customer, entry, step), so a replay after a
crash adds none twice. The dispatcher marks a message `sending` before handing it to the
channel and `delivered` after: a crash in between leaves it `sending`, and it is offered again
with the same id as idempotency key (webhook and provider APIs drop the repeat; SMTP carries it
as Message-ID). Failures retry with exponential backoff; a message too old to matter expires.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable

import msgspec

from ..channels import (
    Channel,
    DeliveryError,
    HTTPChannel,
    LeadChannel,
    LogChannel,
    Message,
    Outbound,
    PushChannel,
    SMSChannel,
    SMTPChannel,
)
from ..config import Settings
from ..store import Outbox

_decode = msgspec.json.Decoder(Message).decode
_log = logging.getLogger("intently.dispatch")


def channels_from_settings(settings: Settings, secret: bytes) -> dict[str, Channel]:
    """The configured channels; email, SMS, push and leads without a provider are absent
    (their messages are logged, status `logged`)."""
    key = settings.webhook_secret.encode() if settings.webhook_secret else secret
    out = Outbound(settings.outbound_allow)
    found: dict[str, Channel] = {"webhook": HTTPChannel(secret=key, outbound=out),
                                 "log": LogChannel()}
    if settings.smtp_host:
        found["email"] = SMTPChannel(settings.smtp_host, settings.smtp_port,
                                     sender=settings.smtp_from, user=settings.smtp_user,
                                     password=settings.smtp_password,
                                     starttls=settings.smtp_starttls)
    if settings.sms_url:
        found["sms"] = SMSChannel(settings.sms_url, token=settings.sms_token, secret=key,
                                  outbound=out)
    if settings.push_url:
        found["push"] = PushChannel(settings.push_url, token=settings.push_token, secret=key,
                                    outbound=out)
    if settings.lead_url:
        found["lead"] = LeadChannel(settings.lead_url, secret=key, outbound=out)
    return found


class Dispatcher:
    """Delivers due messages. Several may run against one outbox, each under its own `owner`
    name (the host's, by default): each claims messages under a lease (`lease_s`), so none is
    sent twice while it holds; a dispatcher restarted under the same name takes back at once
    what it was sending when it stopped (each is sent again with the same id as idempotency
    key)."""

    def __init__(self, outbox: Outbox, channels: dict[str, Channel], *,
                 clock: Callable[[], float] = time.time, max_age_s: float = 86400.0,
                 max_attempts: int = 8, backoff_s: float = 2.0, max_backoff_s: float = 3600.0,
                 fallback: Channel | None = None, owner: str | None = None,
                 lease_s: float = 300.0) -> None:
        self.outbox = outbox
        self.owner = owner or socket.gethostname()
        self.lease_s = lease_s
        self.channels = channels
        self.clock = clock
        self.max_age_s = max_age_s
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.fallback = fallback or LogChannel("dry-run")
        self.counts = {"delivered": 0, "logged": 0, "retried": 0, "failed": 0, "expired": 0}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, limit: int = 200) -> int:
        """Attempt every due message (up to `limit`); returns how many were attempted."""
        now = self.clock()
        items = self.outbox.claim_due(now, self.owner, self.lease_s, limit)
        for m in items:
            self._deliver(m.id, m.channel, m.due, m.attempts, m.body)
        return len(items)

    def _deliver(self, mid: str, channel_name: str, due: float, attempts: int, body: bytes
                 ) -> None:
        outbox, now = self.outbox, self.clock()
        if now - due > self.max_age_s:
            outbox.mark(mid, "expired", attempts, 0.0,
                              f"not sent within {self.max_age_s / 3600:g} h of its due time", now)
            self.counts["expired"] += 1
            _log.warning("message expired unsent", extra={"message_id": mid,
                                                          "channel": channel_name})
            return
        channel = self.channels.get(channel_name)
        status = "delivered"
        if channel is None:
            channel, status = self.fallback, "logged"
        attempts += 1
        try:
            message = _decode(body)
        except msgspec.MsgspecError as exc:  # written by a defect: this one fails, not the rest
            outbox.mark(mid, "failed", attempts, 0.0, f"unreadable: {exc}", now)
            self.counts["failed"] += 1
            _log.error("a message could not be read; it failed", extra={
                "message_id": mid, "error": str(exc)})
            return
        try:
            channel.send(message)
        except DeliveryError as exc:
            context = {"message_id": mid, "channel": channel_name, "attempts": attempts,
                       "error": str(exc)}
            if exc.retryable and attempts < self.max_attempts:
                wait = min(self.max_backoff_s, self.backoff_s * 2 ** (attempts - 1))
                outbox.mark(mid, "pending", attempts, now + wait, str(exc), now)
                self.counts["retried"] += 1
                _log.warning("delivery failed; retrying", extra={**context, "retry_in_s": wait})
            else:
                outbox.mark(mid, "failed", attempts, 0.0, str(exc), now)
                self.counts["failed"] += 1
                _log.error("delivery failed; giving up", extra=context)
            return
        outbox.mark(mid, status, attempts, 0.0, "", now)
        self.counts[status] += 1

    # -- as a thread
    def start(self, interval_s: float = 0.2) -> Dispatcher:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    busy = self.run_once()
                except Exception:  # the store is down, say: log it, wait, try again
                    _log.exception("outbox dispatch failed; retrying", extra={
                        "owner": self.owner})
                    busy = 0
                if not busy:
                    self._wake.wait(interval_s)
                    self._wake.clear()

        self._thread = threading.Thread(target=loop, name="intently-dispatch", daemon=True)
        self._thread.start()
        return self

    def poke(self) -> None:
        """New messages were committed: look now rather than at the next interval."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        for channel in self.channels.values():
            channel.close()
