"""Sharing one engine between threads: a worker thread owns it and group-commits whatever the
HTTP handlers and feeders submitted while the previous commit was running.

The store may finish a batch's commit in the background (`Engine.commit_batch(later=True)`):
the worker runs the next batch meanwhile, and the batch's submitters are answered by the
commit itself, when it is durable (or failed: nothing of it was kept). When no work waits,
the worker waits for the commit at once, so that a failed one sends the engine back to its
last checkpoint before anything else runs."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from .._errors import StoreError, ValidationError
from ..events import Event
from ._engine import Engine
from ._runner import IngestResult

T = TypeVar("T")
_log = logging.getLogger("intently.engine")


class EngineWorker:
    """`submit(events)` returns a future that resolves once the events are durable;
    `call(fn)` runs `fn(engine)` on the worker thread between commits (consistent reads)."""

    def __init__(self, engine: Engine, *, idle_s: float = 0.5) -> None:
        self.engine = engine
        self.idle_s = idle_s
        self._items: deque[tuple[str, Any, Future[Any]]] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self.failure: BaseException | None = None
        """Why the worker thread stopped by itself (it then refuses work: HTTP 503)."""
        self.background_errors = 0
        """Timer or checkpoint runs that failed (logged; the worker went on)."""
        self._landing = False  # a batch's commit may still be finishing in the background
        self._calling = False  # a call runs: its walks through every record let events through
        self.let_through = 0
        """Batches committed between the pages of a call's walk (`Runner.between_pages`)."""
        engine.between_pages = self._between_pages
        self._thread = threading.Thread(target=self._run, name="intently-engine", daemon=True)

    def start(self) -> EngineWorker:
        self._thread.start()
        return self

    def submit(self, events: list[Event],
               raws: list[bytes | None] | None = None) -> Future[IngestResult]:
        """`raws`: the events' JSON as received, stored as is (see `Engine.commit_batch`)."""
        return self._enqueue("events", (events, raws or [None] * len(events)))

    def call(self, fn: Callable[[Engine], T]) -> Future[T]:
        return self._enqueue("call", fn)

    @property
    def alive(self) -> bool:
        """Whether the worker thread runs and takes work (what `/health` reports)."""
        return self.failure is None and self._thread.is_alive() and not self._stopping

    def _enqueue(self, kind: str, payload: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._cond:
            if self.failure is not None:
                raise StoreError(f"the engine stopped: {self.failure!r}; see the log")
            if self._stopping:
                raise StoreError("the engine worker is stopped")
            self._items.append((kind, payload, future))
            self._cond.notify()
        return future

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # never hidden: /health says so, and work is refused
            self.failure = exc
            _log.critical("the engine worker stopped", exc_info=exc)
            with self._cond:
                left = list(self._items)
                self._items.clear()
            for _, _, future in left:
                future.set_exception(StoreError(f"the engine stopped: {exc!r}"))
        finally:
            try:
                self.engine.close()
            except Exception:
                _log.exception("closing the engine failed")

    def _loop(self) -> None:
        engine = self.engine
        limit = engine.settings.batch_size
        while True:
            with self._cond:
                if not self._items and not self._stopping and not self._landing:
                    self._cond.wait(self.idle_s)
                if not self._items:
                    if self._landing:
                        self._land()
                        continue
                    if self._stopping:
                        break
                    self._background(engine)
                    continue
                items: list[Any] = []
                size = 0
                while self._items and (not items or size < limit):
                    kind, payload, _ = self._items[0]
                    if kind == "call" and items:
                        break
                    items.append(self._items.popleft())
                    if kind == "call":
                        break
                    size += len(payload[0])
            if items[0][0] == "call":
                _, fn, future = items[0]
                self._land()  # a call reads between commits: the last one durable
                self._calling = True
                try:
                    _call(future, fn, engine)
                finally:
                    self._calling = False
            else:
                self._commit(items)

    def _between_pages(self) -> None:
        """Between two pages of a call's walk through every record (a segment added, the
        analytics jobs): commit the batches waiting at the head of the queue, as one group
        commit, and wait until it is durable, so a walk of a million records does not hold
        ingest back for its seconds. Only events pass: work submitted after a call that is
        waiting (another call, and the events behind it) keeps its order."""
        if not self._calling:  # a walk outside a call (a timer's job): nothing waits here
            return
        limit = self.engine.settings.batch_size
        items: list[tuple[str, Any, Future[Any]]] = []
        size = 0
        with self._cond:
            while self._items and self._items[0][0] == "events" and (not items or size < limit):
                items.append(self._items.popleft())
                size += len(items[-1][1][0])
        if not items:
            return
        engine = self.engine
        reloads = engine.reloads
        self._calling = False  # a walk inside the commit (none today) would not nest
        try:
            self._commit(items)
            self._land()
        finally:
            self._calling = True
        self.let_through += 1
        if engine.reloads != reloads:  # the walk's changes so far may be gone with the cache
            raise StoreError("a batch committed during a walk through every record failed, and "
                             "the engine went back to its last checkpoint: the walk stopped")

    def _background(self, engine: Engine) -> None:
        """Timers and checkpoints between commits. A failure is logged and retried at the
        next idle moment: nothing is lost (the log has every event) and ingestion goes on."""
        try:
            engine.tick()
            engine.maybe_checkpoint()
        except Exception:
            self.background_errors += 1
            _log.exception("timers or checkpoint failed; the engine goes on")
        engine.privacy.retention.apply_if_due()  # hourly; logs its own failures

    def _land(self) -> None:
        """Wait for the batch committing in the background; its submitters were answered by
        the commit (a failure too: `_commit`), so a failure is only logged here."""
        if not self._landing:
            return
        self._landing = False
        try:
            self.engine.land()
        except Exception:
            self.background_errors += 1
            _log.exception("a group commit failed; its submitters were answered with the error")

    def _commit(self, items: list[tuple[str, Any, Future[Any]]]) -> None:
        events = [ev for _, (batch, _), _ in items for ev in batch]
        raws = [raw for _, (_, batch_raws), _ in items for raw in batch_raws]
        try:
            # the batch written on this thread, only its COMMIT on the store's commit thread:
            # clients wait on each commit here, and a commit thread that writes the batch too
            # waits for the GIL at each statement against this thread and the event loop's
            # (`/v1/batch` from 8 clients: 41,000 events/s against 36,000 that way)
            result = self.engine.commit_batch(events, raws, later=True, hand_over=False)
        except ValidationError as exc:
            if len(items) == 1:
                items[0][2].set_exception(exc)
                return
            for item in items:  # isolate the bad submission; the others go through
                self._commit([item])
            return
        except BaseException as exc:
            for _, _, future in items:
                future.set_exception(exc)
            return
        answers: list[tuple[Future[Any], IngestResult]] = []
        offset = 0
        for _, (batch, _), future in items:
            dupes = sum(1 for i in result.duplicate_at if offset <= i < offset + len(batch))
            answers.append((future, IngestResult(accepted=len(batch) - dupes, duplicates=dupes)))
            offset += len(batch)
        if result.durable is None:
            _answer(answers, None)
        else:
            self._landing = True
            result.durable.add_done_callback(lambda done: _answer(answers, done.exception()))


def _answer(answers: list[tuple[Future[Any], IngestResult]], error: BaseException | None
            ) -> None:
    """Answer a batch's submitters once it is durable, or with why it was not kept (on the
    thread that finished the commit)."""
    for future, result in answers:
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


def _call(future: Future[Any], fn: Callable[[Engine], Any], engine: Engine) -> None:
    try:
        future.set_result(fn(engine))
    except BaseException as exc:
        future.set_exception(exc)

