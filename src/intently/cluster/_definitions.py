"""Segments and scenarios changed in a running cluster.

A change is saved in the cluster's shared catalog (where a partition opened later reads it)
and journaled once, with who made it and the definition before and after. Then it goes to
every partition as a control message, and each owner applies it in order with its events: a
new or changed segment evaluates every record of the partition against it, a removed one
makes its members leave, a scenario acts on events from then on. The owner writes what the
change did at once (a checkpoint), so the partition's tables show it."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

from ..config import Settings
from ..engine import Engine
from ..scenarios import Renderer, Scenario, ScenarioBook, Tracker
from ..segments import Segment
from ..store import PrivacyRequest
from ..store.postgres import PostgresStore
from ._stream import Control

_log = logging.getLogger("intently.cluster")
KINDS = ("segment", "scenario")


class ClusterDefinitions:
    def __init__(self, settings: Settings, control: Control) -> None:
        self.settings = settings
        self._control = control

    async def put_segment(self, segment: Segment, actor: str) -> dict[str, Any]:
        return await self._change("segment", segment.name, segment.to_json(), actor)

    async def remove_segment(self, name: str, actor: str) -> dict[str, Any]:
        return await self._change("segment", name, None, actor)

    async def put_scenario(self, scenario: Scenario, actor: str) -> dict[str, Any]:
        """Checked here as an engine checks it (its templates exist and compile), so that no
        partition is sent one it must refuse."""
        ScenarioBook([], Renderer(Tracker(self.settings.base_url, b"check"))).renderer_check(
            scenario)
        return await self._change("scenario", scenario.name, scenario.to_json(), actor)

    async def remove_scenario(self, name: str, actor: str) -> dict[str, Any]:
        return await self._change("scenario", name, None, actor)

    async def _change(self, kind: str, name: str, definition: dict[str, Any] | None,
                      actor: str) -> dict[str, Any]:
        request = uuid.uuid4().hex
        await asyncio.to_thread(self._save, request, kind, name, definition, actor)
        parts = await self._control("define", {"request": request, "kind": kind, "name": name,
                                               "definition": definition, "actor": actor})
        return {"request": request, "name": name, "partitions": parts,
                "status": "accepted" if definition is not None else "deleting"}

    def _save(self, request: str, kind: str, name: str, definition: dict[str, Any] | None,
              actor: str) -> None:
        shared = PostgresStore(self.settings.db, writer_lock=False)
        try:
            load, save = ((shared.load_segments, shared.save_segment) if kind == "segment"
                          else (shared.load_scenarios, shared.save_scenario))
            kept = load().get(name)
            save(name, None if definition is None else json.dumps(definition).encode())
            verb = f"{kind}.{'put' if definition is not None else 'delete'}"
            shared.log_request(PrivacyRequest(request, verb, name, time.time(), actor, json.dumps(
                {"before": json.loads(kept) if kept else None, "after": definition},
                sort_keys=True)))
        finally:
            shared.close()


def apply_definition(engine: Engine, request: dict[str, Any]) -> None:
    """What a partition's owner does with a `define` control message (read with `json`)."""
    kind, name, definition = request["kind"], str(request["name"]), request.get("definition")
    if kind == "segment":
        if definition is not None:
            engine.put_segment(Segment.from_json(definition))
        elif name in engine.segment_definitions:
            engine.remove_segment(name)
    elif kind == "scenario":
        if definition is not None:
            engine.put_scenario(Scenario.from_dict(definition))
        elif name in engine.scenario_definitions:
            engine.remove_scenario(name)
    else:
        raise ValueError(f"unknown definition kind {kind!r}")
    engine.checkpoint()
