"""Fuzzing as a test: schemathesis generates requests for every route from the OpenAPI document
(valid bodies, and bodies that break the schema on purpose), sent with a key, and no answer may
be a 5xx. Then the engine checkpoints, restarts from its store, and serves every profile.

Bounded and deterministic: a fixed number of examples per route, derandomized."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from conftest import T0
from intently import Engine, ManualClock, Settings
from intently.api import create_app
from intently.engine import EngineWorker

pytestmark = pytest.mark.slow

KEY = "fuzz-key"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()}
STORE: dict[str, object] = {}
EXAMPLES = 40  # per route


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    s = Settings(db=str(db), write_keys=(KEY,), admin_keys=(KEY,))
    worker = EngineWorker(Engine(db, settings=s, clock=ManualClock(T0))).start()
    STORE.update(db=db, settings=s, worker=worker)
    yield create_app(worker, s)
    worker.stop()


def test_no_request_gets_a_server_error(fuzzed_app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app, headers=AUTH)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30  # every route is in the document
    # the live feed is a server-sent event stream that stays open: it takes no input to fuzz
    operations = [op for op in operations if op.path != "/v1/dashboard/stream"]
    for operation in operations:

        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case) -> None:
            response = case.call(headers=AUTH)
            case.validate_response(response, checks=[not_a_server_error])

        call()


def test_after_the_fuzzing_the_store_restarts_and_serves_every_profile(
        fuzzed_app: FastAPI) -> None:
    worker = STORE["worker"]
    assert isinstance(worker, EngineWorker) and worker.alive
    worker.call(lambda engine: engine.checkpoint()).result(timeout=60)
    worker.stop()
    db = STORE["db"]
    assert isinstance(db, Path)
    again = Engine(db, settings=STORE["settings"], clock=ManualClock(T0))  # type: ignore[arg-type]
    try:
        seen = 0
        for p in again.all_profiles():
            again.timeline(p)
            seen += 1
        assert seen == again.store.count_profiles()
    finally:
        again.close()
