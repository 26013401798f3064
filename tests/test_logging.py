"""Logging: failure paths log with their context, as text or as one JSON object per line."""

from __future__ import annotations

import json
import logging

import pytest

from conftest import T0
from intently._logging import JSONFormatter, TextFormatter, configure
from intently.channels import DeliveryError
from intently.engine import Dispatcher
from intently.scenarios import Message
from intently.store import MemoryStore


class Down:
    def send(self, message: Message) -> None:
        raise DeliveryError("503 busy", retryable=True)

    def close(self) -> None:
        pass


def record(**extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("intently.x", logging.ERROR, __file__, 1, "it broke", None, None)
    rec.__dict__.update(extra)
    return rec


def test_both_formats_carry_the_context() -> None:
    entry = json.loads(JSONFormatter().format(record(seq=7, error="boom")))
    assert entry["message"] == "it broke" and entry["level"] == "error"
    assert (entry["seq"], entry["error"]) == (7, "boom") and entry["time"].endswith("Z")
    text = TextFormatter().format(record(seq=7))
    assert "ERROR intently.x: it broke seq=7" in text


def test_configure_refuses_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="log_format"):
        configure("info", "xml")
    with pytest.raises(ValueError, match="level"):
        configure("loud", "text")


def test_a_failed_delivery_is_logged_with_its_message(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    with store.transaction() as tx:
        tx.put_effects([("m1", "s", "p", "A", "webhook", T0, msgspec_message())], [])
    dispatcher = Dispatcher(store, {"webhook": Down()}, clock=lambda: T0)  # type: ignore[dict-item]
    with caplog.at_level(logging.WARNING, logger="intently"):
        assert dispatcher.run_once() == 1
    [rec] = [r for r in caplog.records if r.name == "intently.dispatch"]
    assert rec.getMessage() == "delivery failed; retrying"
    assert (rec.message_id, rec.channel, rec.error) == ("m1", "webhook", "503 busy")  # type: ignore[attr-defined]


def msgspec_message() -> bytes:
    import msgspec

    return msgspec.json.encode(Message("m1", "s", "p", "A", "webhook", "https://x.test", T0))


def test_a_message_that_cannot_be_read_fails_alone(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    with store.transaction() as tx:
        tx.put_effects([("bad", "s", "p", "A", "webhook", T0, b"{not json"),
                        ("m1", "s", "p", "A", "webhook", T0 + 1, msgspec_message())], [])
    dispatcher = Dispatcher(store, {"webhook": Down()}, clock=lambda: T0 + 2)  # type: ignore[dict-item]
    with caplog.at_level(logging.WARNING, logger="intently"):
        assert dispatcher.run_once() == 2
    assert {m.id: m.status for m in store.outbox()} == {"bad": "failed", "m1": "pending"}
    assert any(r.getMessage() == "a message could not be read; it failed"
               for r in caplog.records)
