"""Channels that POST JSON to an HTTP endpoint: webhooks, sales leads, and SMS and push
providers. Every request carries the message id as `Idempotency-Key` and an HMAC-SHA256
signature of the body (`X-Intently-Signature: t=<unix time>,v1=<hex>`, the scheme Stripe made
common), so the receiver can verify the sender and drop a retry it already handled."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from ._base import DeliveryError
from ._message import Message
from ._outbound import Outbound, Target


def sign(secret: bytes, body: bytes, ts: int) -> str:
    mac = hmac.new(secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def verify(secret: bytes, body: bytes, header: str, tolerance_s: float = 300.0,
           now: float | None = None) -> bool:
    """Check a signature header as a receiver would."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, ts), header)


class HTTPChannel:
    """POSTs `payload(message)`; 2xx accepted, 408/429/5xx and network errors retryable, other
    4xx not."""

    name = "webhook"

    def __init__(self, url: str | None = None, *, secret: bytes = b"", token: str | None = None,
                 timeout: float = 10.0, name: str | None = None,
                 outbound: Outbound | None = None) -> None:
        """`outbound`: where it may send (default: public addresses only)."""
        self.url = url  # None: the message's own `to` is the URL (webhook steps)
        self.secret = secret
        self.token = token
        self.outbound = outbound or Outbound()
        if name:
            self.name = name
        self.client = httpx.Client(timeout=timeout)

    def payload(self, message: Message) -> dict[str, Any]:
        return {"id": message.id, "scenario": message.scenario, "customer": message.profile_id,
                "arm": message.arm, "due": message.due, "data": message.data}

    def send(self, message: Message) -> None:
        body = json.dumps(self.payload(message), separators=(",", ":"), default=str).encode()
        headers = {"content-type": "application/json", "idempotency-key": message.id,
                   "user-agent": "intently"}
        if self.secret:
            headers["x-intently-signature"] = sign(self.secret, body, int(time.time()))
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        url = self.url or message.to
        target = self.outbound.check(url)
        r = self._post(url, target, body, {**headers, "host": target.host})
        if r.status_code >= 300:
            retry = r.status_code in (408, 429) or r.status_code >= 500
            raise DeliveryError(f"{url} answered {r.status_code}: {r.text[:200]}",
                                retryable=retry)

    def _post(self, url: str, target: Target, body: bytes, headers: dict[str, str]
              ) -> httpx.Response:
        """POST to the addresses that were checked, in turn until one connects (never to a
        name resolved again: DNS rebinding); the certificate is checked against the URL's
        host."""
        sni = {"sni_hostname": target.name} if target.tls else {}
        failed: Exception | None = None
        for address in target.urls:
            try:
                return self.client.post(address, content=body, headers=headers,
                                        extensions=sni)
            except httpx.ConnectError as exc:  # that address is down: the next one
                failed = exc
            except httpx.HTTPError as exc:
                raise DeliveryError(f"{type(exc).__name__} posting to {url}: {exc}") from None
        raise DeliveryError(f"{type(failed).__name__} posting to {url}: {failed}")

    def close(self) -> None:
        self.client.close()


class LeadChannel(HTTPChannel):
    """A sales lead for a human (a branch manager, a call centre) to a CRM endpoint."""

    name = "lead"

    def payload(self, message: Message) -> dict[str, Any]:
        return {**super().payload(message), "team": message.to,
                "note": message.data.get("note", "")}


class SMSChannel(HTTPChannel):
    """An SMS provider's HTTP API: `{"to": phone, "body": text}` with a bearer token."""

    name = "sms"

    def payload(self, message: Message) -> dict[str, Any]:
        return {"to": message.to, "body": message.body, "reference": message.id}


class PushChannel(HTTPChannel):
    """A push provider's HTTP API: `{"token": device, "title": .., "body": ..}`."""

    name = "push"

    def payload(self, message: Message) -> dict[str, Any]:
        return {"token": message.to, "title": message.subject, "body": message.body,
                "reference": message.id}
