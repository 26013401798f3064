"""The command line as a surface: a light `intently --help`, every command reachable with the
help the list shows, and `intently doctor`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import T0, track
from intently import Engine, ManualClock, Settings
from intently.cli import app
from intently.cli._app import COMMANDS, load

HEAVY = ("intently.engine", "intently.api", "fastapi", "scipy", "sklearn", "duckdb", "pyarrow",
         "rich")


def test_the_top_level_help_loads_no_command() -> None:
    probe = ("import sys; sys.argv = ['intently', '--help']\n"
             "from intently.cli import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             f"print([m for m in sys.modules if m.startswith({HEAVY!r})])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "[]"
    for name in COMMANDS:
        assert name in out.stdout


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_loads_with_the_help_the_list_shows(name: str) -> None:
    command = load(name)
    assert command.name == name
    assert " ".join((command.help or "").split()).startswith(COMMANDS[name][2])
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output


def _store(path: Path) -> str:
    engine = Engine(path, settings=Settings(db=str(path)), clock=ManualClock(T0),
                    intent_model=False)
    engine.process_many([track("Product Viewed", user=f"u{i}") for i in range(5)])
    engine.close()
    return str(path)


def test_doctor_on_a_healthy_store(tmp_path: Path) -> None:
    db = _store(tmp_path / "ok.db")
    result = CliRunner().invoke(app, ["doctor", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["healthy"] and report["log_position"] == 5 and report["checkpoint_lag"] == 0
    assert [c["check"] for c in report["checks"]] == ["log", "checkpoint", "set aside", "outbox"]


def test_doctor_names_what_needs_attention(tmp_path: Path) -> None:
    from intently.store import open_store

    db = _store(tmp_path / "sick.db")
    store = open_store(db)
    with store.transaction() as tx:  # an event set aside, a message nobody delivered
        tx.set_aside(3, "TypeError: boom", T0)
        tx.put_effects([("m1", "s", "p", "A", "email", T0 - 3600, b"{}")], [])
    store.close()
    result = CliRunner().invoke(app, ["doctor", "--db", db, "--json"])
    assert result.exit_code == 1
    checks = {c["check"]: c for c in json.loads(result.output)["checks"]}
    assert not checks["set aside"]["ok"] and "TypeError: boom" in checks["set aside"]["detail"]
    assert not checks["outbox"]["ok"] and "dispatcher" in checks["outbox"]["detail"]
    assert checks["log"]["ok"] and checks["checkpoint"]["ok"]
    table = CliRunner().invoke(app, ["doctor", "--db", db])
    assert table.exit_code == 1 and "attention" in table.output


def test_serve_runs_at_cpythons_own_switch_interval_and_other_commands_at_the_short_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`intently serve`'s engine writes its batches itself, so the short interval the CLI sets
    for the commit thread (`_threads`) would only cost its event loop switches."""
    from intently._threads import CPYTHON_SWITCH_INTERVAL_S, SWITCH_INTERVAL_S, tune_threads
    from intently.cli import _serve

    seen: list[float] = []

    class Started:  # where the server would start: what the process runs at then
        @classmethod
        def build(cls, settings: Settings) -> Started:
            return cls()

        def serve(self, host: str, port: int) -> None:
            seen.append(sys.getswitchinterval())

    before = sys.getswitchinterval()
    monkeypatch.setattr(_serve, "Application", Started)
    try:
        tune_threads()  # as `intently.cli.main` does for every command
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S
        out = CliRunner().invoke(app, ["serve", "--db", str(tmp_path / "x.db"),
                                       "--write-key", "k"])
        assert out.exit_code == 0, out.output
    finally:
        sys.setswitchinterval(before)
    assert seen == [CPYTHON_SWITCH_INTERVAL_S]
