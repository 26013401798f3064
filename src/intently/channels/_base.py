"""The channel port: one verb, `send`, for every way a message leaves Intently.

A channel either returns (the provider accepted the message) or raises `DeliveryError`, which
says whether trying again could help. Retries, backoff and giving up are the dispatcher's job,
so every channel behaves the same way and one contract suite (`tests/test_channel_contract.py`)
runs against all of them."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._message import Message


class DeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@runtime_checkable
class Channel(Protocol):
    name: str

    def send(self, message: Message) -> None:
        """Hand the message to the provider; raise DeliveryError when it was not accepted.
        `message.id` is the idempotency key: a provider that sees it twice keeps one."""

    def close(self) -> None: ...
