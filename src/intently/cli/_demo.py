"""`intently demo`: the simulator streams shop traffic through the engine while the HTTP API
listens and the terminal shows the live view."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import typer
from rich.console import Console
from rich.live import Live

from .._errors import IntentlyError
from ..app import Application
from ..engine import EngineWorker, as_event
from ..events import Event
from ..scenarios import ready_made
from ..testing import Shop
from ._common import CONFIG, DB, emit_json, err, guard, settings
from ._live import LiveView, snapshot

DEMO_WRITE_KEY = "demo-write-key"
DEMO_ADMIN_KEY = "demo-admin-key"


def demo(
    minutes: float = typer.Option(10.0, help="Wall-clock minutes to run, then exit"),
    users: int = typer.Option(2000, help="Simulated customers"),
    days: float = typer.Option(7.0, help="Days of shop traffic compressed into --minutes"),
    seed: int = typer.Option(7, help="Simulator seed"),
    port: int = typer.Option(8000, help="HTTP API port (0: no API)"),
    db: str = DB,
    config: str = CONFIG,
) -> None:
    """Run the live demo on the embedded store."""
    s = settings(config, db=db)
    s = replace(s, write_keys=s.write_keys or (DEMO_WRITE_KEY,),
                admin_keys=s.admin_keys or (DEMO_ADMIN_KEY,),
                builtin_segments=True,  # at demo rates their cost does not matter
                base_url=f"http://127.0.0.1:{port}")
    shop = Shop(users=users, days=days, seed=seed, start=time.time() - days * 86400)
    clock = ShopClock(shop.start, days * 86400 / max(minutes * 60.0, 1.0))
    try:  # segment timers follow the shop's time; messages a year old still go out
        app = Application.build(s, clock=clock, max_message_age_s=365 * 86400.0)
    except IntentlyError as exc:
        guard(exc)
        return
    engine, worker = app.engine, app.worker
    if not engine.scenario_definitions:  # the ready-made ones, editable afterwards
        for scenario in ready_made().values():
            engine.put_scenario(scenario)
    app.start()
    if port and not app.serve_in_background(port):
        err.print(f"[yellow]API not started (is port {port} in use?); continuing without it[/]")
        port = 0
    stop = threading.Event()
    feeder = threading.Thread(target=_feed, args=(shop, worker, clock, stop), daemon=True)
    feeder.start()
    view = LiveView(f"Intently demo · {users} simulated customers · {days:g} days in "
                    f"{minutes:g} min · store {s.db}")
    footer = (f"Dashboard: http://127.0.0.1:{port}/ (sign in with {s.admin_keys[0]})   "
              f"API: http://127.0.0.1:{port}/v1/batch  write key: {s.write_keys[0]}   "
              "Ctrl-C to stop" if port else "Ctrl-C to stop")
    deadline = time.monotonic() + minutes * 60.0
    console = Console()
    try:
        with Live(console=console, refresh_per_second=4, transient=False) as live:
            while time.monotonic() < deadline and feeder.is_alive():
                snap = worker.call(snapshot).result()
                live.update(view.render(snap, footer))
                time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        feeder.join(timeout=5)
        final = worker.call(snapshot).result()
        app.stop()
    console.print()
    emit_json({"events": final.events, "profiles": final.profiles, "orders": final.orders,
               "messages": final.messages, "store": s.db})


class ShopClock:
    """The simulated shop's time: `speed` times faster than the wall clock, from `start`."""

    def __init__(self, start: float, speed: float) -> None:
        self.start, self.speed = start, speed
        self.started = time.monotonic()

    def now(self) -> float:
        return self.start + (time.monotonic() - self.started) * self.speed

    def wall_time_of(self, ts: float) -> float:
        return self.started + (ts - self.start) / self.speed


def _feed(shop: Shop, worker: EngineWorker, clock: ShopClock, stop: threading.Event) -> None:
    """Play the shop's events as the shop's clock reaches them, in small group commits."""
    batch: list[Event] = []
    for raw in shop.events():
        if stop.is_set():
            return
        event = as_event(raw)
        wait = clock.wall_time_of(event.ts) - time.monotonic()
        if wait > 0.05:
            if batch:
                worker.submit(batch).result()
                batch = []
            if stop.wait(min(wait, 1.0)) or stop.is_set():
                return
        batch.append(event)
        if len(batch) >= 500:
            worker.submit(batch).result()
            batch = []
    if batch:
        worker.submit(batch).result()


