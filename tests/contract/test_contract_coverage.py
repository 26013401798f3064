"""Each port's contract suite exercises every method of its protocol."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from intently import store

SUITES = {store.EventLog: "event_log", store.LogTransaction: "event_log",
          store.StateStore: "state_store", store.Outbox: "outbox", store.Catalog: "catalog",
          store.ReadModels: "read_models", store.PrivacyStore: "privacy"}


@pytest.mark.parametrize("port", list(SUITES), ids=lambda p: p.__name__)
def test_the_suite_calls_every_method(port: type) -> None:
    text = (Path(__file__).parent / f"test_contract_{SUITES[port]}.py").read_text()
    methods = [name for name, _ in inspect.getmembers(port, inspect.isfunction)
               if not name.startswith("_")]
    assert methods
    missing = [m for m in methods if f".{m}(" not in text]
    assert missing == [], f"{port.__name__}: no contract test calls {missing}"


def test_every_backend_is_registered_and_found_by_url() -> None:
    assert store.schemes() == ["memory", "postgres", "postgresql", "sqlite"]
    with pytest.raises(ValueError, match="memory://, postgres://, postgresql://, sqlite://"):
        store.open_store("nats://localhost")
