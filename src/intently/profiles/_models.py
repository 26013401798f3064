"""What a model of golden records offers, whatever it models (River's one small verb)."""

from __future__ import annotations

from typing import Any, Protocol

from ._record import Profile


class RecordModel(Protocol):
    """A fitted model that reads a golden record: purchase intent, the behavior cluster, RFM,
    lifetime value. `predict_one` never changes the record; the same record and time give the
    same answer; a record the model has nothing to say about gives None."""

    version: str

    def predict_one(self, p: Profile, now: float) -> dict[str, Any] | None: ...
