from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from intently import Engine, ManualClock, Settings
from intently.store import MemoryStore, SQLiteStore, Store, _sqlite_tx, open_store, sealed
from intently.store._sqlite_bulk import Bulk, Rows
from intently.testing import free_port, port_open, wait_until

if TYPE_CHECKING:
    from intently.cluster import ClusterWorker


def pytest_configure(config: pytest.Config) -> None:
    from intently._hot import stale

    old = stale()
    if old:  # Python would import the old compiled code, not the edited source
        pytest.exit(f"compiled modules older than their source: {', '.join(old)}; "
                    "rebuild with `make test` or `.venv/bin/pip install -e .`", returncode=2)


T0 = 1_790_000_000.0  # 2026-09-21T14:13:20Z

HISTORY = Settings(future_tolerance_seconds=float("inf"))
"""For tests that replay a history on a clock that stands still at T0: their events are
dated days after the clock, which live traffic would have filed at its receive time."""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def engine(clock: ManualClock) -> Iterator[Engine]:
    eng = Engine(MemoryStore(), clock=clock, settings=HISTORY)
    yield eng
    eng.close()


@pytest.fixture(params=["engine thread", "commit thread"])
def writer(request: pytest.FixtureRequest) -> Iterator[str]:
    """Who writes a SQLite batch landing on the commit thread: the switch interval decides
    (`store._sqlite_landing.hands_over`)."""
    from intently._threads import CPYTHON_SWITCH_INTERVAL_S, SWITCH_INTERVAL_S
    from intently.store import _sqlite_landing

    before = sys.getswitchinterval()
    sys.setswitchinterval(CPYTHON_SWITCH_INTERVAL_S if request.param == "engine thread"
                          else SWITCH_INTERVAL_S)
    assert _sqlite_landing.hands_over() == (request.param == "commit thread")
    yield request.param
    sys.setswitchinterval(before)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """A SQLite batch handed to the commit thread stays landing (not durable) until the test
    sets the event."""
    from intently.store import _sqlite_landing

    go = threading.Event()
    finish = _sqlite_landing.finish

    def held_finish(*args: object) -> None:
        assert go.wait(10.0)
        finish(*args)  # type: ignore[arg-type]

    monkeypatch.setattr("intently.store.sqlite.finish", held_finish)
    yield go
    go.set()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "intently.db"


POSTGRES = os.environ.get("INTENTLY_TEST_POSTGRES", "postgresql:///test")
"""The PostgreSQL database the tests use (`make test` provisions it: scripts/services.sh);
each test gets a schema of its own in it, dropped afterwards."""


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A store URL with a new, empty schema of the test database; the schema is dropped after."""
    import psycopg

    from intently.store.postgres import with_schema

    name = f"t_{uuid.uuid4().hex[:16]}"
    conninfo = POSTGRES.partition("?")[0]
    try:
        yield with_schema(POSTGRES, name)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as db:  # a cluster's partitions, and
            for (schema,) in db.execute(  # its union and template schemas, too
                    "SELECT nspname FROM pg_namespace WHERE nspname = %s OR nspname LIKE %s",
                    (name, f"{name}\\_%")).fetchall():
                db.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[arg-type]


STORES = ["memory", "sqlite", "postgresql", "sealed"]
MASTER_KEY = "Bm9yZS10ZXN0LWtleS1vZi10aGlydHktdHdvLWJ5dGU="
"""A fixed master key (32 bytes) for stores that seal personal data."""


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty store of each backend (`sealed+`: a SQLite store that seals
    personal data)."""
    if request.param == "postgresql":
        with postgres_schema() as url:
            yield url
    elif request.param == "sealed":
        yield f"sealed+sqlite:///{tmp_path}/contract.db"
    else:
        yield "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/contract.db"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    _, sep, url = store_url.partition("sealed+")
    backend: Store = (sealed(open_store(url), [MASTER_KEY]) if sep
                      else open_store(store_url))
    yield backend
    backend.close()


def track(name: str, *, user: str | None = None, anon: str | None = None, at: float = T0,
          mid: str | None = None, **props: object) -> dict[str, object]:
    """A Segment track call, terse."""
    ev: dict[str, object] = {"type": "track", "event": name, "timestamp": at, "properties": props}
    if user:
        ev["userId"] = user
    if anon:
        ev["anonymousId"] = anon
    if mid:
        ev["messageId"] = mid
    return ev


def sqlite_engine(path: Path, clock: ManualClock | None = None, **settings: object) -> Engine:
    settings.setdefault("future_tolerance_seconds", HISTORY.future_tolerance_seconds)
    return Engine(path, settings=Settings(db=str(path), **settings),  # type: ignore[arg-type]
                  clock=clock or ManualClock(T0))


def named_weights(model: Any) -> dict[str, float]:
    """An `IntentModel`'s weights by the names `intent.features` gives its inputs."""
    from intently.profiles import ITEM_FEATURES

    weights = {f"count:{k}": v for k, v in model.count.items()}
    weights.update({f"last:{k}": v for k, v in model.last.items()})
    weights.update({f"recent:{a}>{b}": w for a, row in model.recent.items()
                    for b, w in row.items()})
    weights.update({f"category:{k}": v for k, v in model.category.items()})
    weights.update(model.scalar)
    weights.update({(f"item:{k}" if k in ITEM_FEATURES else k): v
                    for k, v in model.items.items()})
    weights.update({f"x:{k}": v for k, v in model.pairs.items()})
    return weights


class NatsServer:
    """nats-server with JetStream on a free port, its store in a folder of the test's."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        self.proc = subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: port_open(self.port), 10, "nats-server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.kill()


@contextmanager
def running(worker: ClusterWorker) -> Iterator[asyncio.AbstractEventLoop]:
    """`worker` running in a thread with a loop of its own; stopped (its partitions written
    and given back) at the end of the block."""
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(worker.run(stop),))
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
    assert not thread.is_alive(), "the worker did not stop"


Outcome = tuple[dict[str, bytes], list[str], list[str], dict[str, int]]
"""What a run left: encoded records by id, outbox message ids, journal rows, segment sizes."""


def unnumbered(blob: bytes) -> bytes:
    """A stored record but for the number of its newest journal row, which only SQLite keeps,
    and which a replay may leave different (a row it repeats, kept once, uses up a number)."""
    from intently.profiles import decode_profile, encode_profile

    profile = decode_profile(blob)
    profile.journal_head = 0.0
    return encode_profile(profile)


def outcome(engine: Engine, until: float = T0 + 60 * 86400.0) -> Outcome:
    """Fire the timers due by `until`, write everything, and say what the run left."""
    from intently.profiles import encode_profile

    engine.tick(until)
    engine.checkpoint()
    records = {pid: encode_profile(engine.profile(pid))
               for pid in engine.store.profile_ids(limit=100_000)}
    rm = engine.read_models
    messages = sorted(m.id for m in rm.outbox(100_000))
    journal = sorted(f"{j.profile_id}|{j.id}" for j in rm.journal(limit=1_000_000))
    return records, messages, journal, rm.segment_sizes()


def fail_next_commit(store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next group commit writes a row whose deferred foreign key fails at `COMMIT`."""
    db = store._conn
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE IF NOT EXISTS child (p INTEGER REFERENCES parent (id) "
               "DEFERRABLE INITIALLY DEFERRED)")
    rows = _sqlite_tx.Transaction._rows
    child = Bulk("INSERT INTO child (p) SELECT {} FROM json_each(?1) AS j", "n",
                 "INSERT INTO child (p) VALUES (?)")

    def failing(tx: _sqlite_tx.Transaction) -> list[Rows]:
        monkeypatch.setattr(_sqlite_tx.Transaction, "_rows", rows)  # this once
        return [*rows(tx), Rows(child, [(42,)])]

    monkeypatch.setattr(_sqlite_tx.Transaction, "_rows", failing)
