"""One check suite for every model of golden records (`RecordModel.predict_one`): intent,
clusters, RFM and lifetime value, fitted or shipped, over simulated customers."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from intently import Engine, ManualClock, Profile
from intently.engine import update_clv, update_rfm
from intently.profiles import RecordModel, encode_profile
from intently.store import MemoryStore
from intently.testing import Shop


@pytest.fixture(scope="module")
def fitted() -> Iterator[tuple[Engine, dict[str, RecordModel]]]:
    shop = Shop(users=300, days=60, seed=5)
    engine = Engine(MemoryStore(), clock=ManualClock(shop.start + 61 * 86400))
    engine.process_many(shop.events())
    assert engine.intent is not None and engine.clusters is not None
    models: dict[str, RecordModel] = {
        "intent": engine.intent, "clusters": engine.clusters,
        "rfm": update_rfm(engine), "clv": update_clv(engine)}
    yield engine, models


NAMES = ["intent", "clusters", "rfm", "clv"]


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        yield float(value)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)


@pytest.mark.parametrize("name", NAMES)
def test_a_model_reads_records_and_leaves_them_as_they_were(
        fitted: tuple[Engine, dict[str, RecordModel]], name: str) -> None:
    engine, models = fitted
    model = models[name]
    assert isinstance(model.version, str) and model.version
    now = engine.clock.now()
    answered = 0
    for p in engine.all_profiles():
        before = encode_profile(p)
        out = model.predict_one(p, now)
        assert encode_profile(p) == before  # reading never writes
        assert model.predict_one(p, now) == out  # the same record, the same answer
        if out is not None:
            answered += 1
            assert isinstance(out, dict) and out
            json.dumps(out)  # JSON as it is
            assert all(math.isfinite(v) for v in _numbers(out))
    assert answered >= 20  # it says something about simulated customers


@pytest.mark.parametrize("name", NAMES)
def test_a_new_record_is_no_trouble(fitted: tuple[Engine, dict[str, RecordModel]],
                                    name: str) -> None:
    engine, models = fitted
    assert models[name].predict_one(Profile("new"), engine.clock.now()) is None
