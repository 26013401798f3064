"""The demo and the bench run end to end as a user starts them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_and_exits_by_itself(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "intently", "demo", "--minutes", "0.05", "--users", "60",
         "--days", "1", "--port", "0", "--db", str(tmp_path / "demo.db")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout[out.stdout.rindex("{"):])
    assert summary["events"] > 0 and summary["profiles"] > 0
    assert (tmp_path / "demo.db").exists()


def test_simulate_then_ingest_then_profile(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "intently"]
    db = str(tmp_path / "x.db")
    sim = subprocess.run([*run, "simulate", "--users", "40", "--days", "5", "--out",
                          str(tmp_path / "shop.csv"), "--json"], capture_output=True, text=True)
    assert sim.returncode == 0, sim.stderr
    n = json.loads(sim.stdout)["events"]
    ing = subprocess.run([*run, "ingest", str(tmp_path / "shop.csv"), "--db", db, "--json",
                          "--anonymous-col", "anonymous_id"], capture_output=True, text=True)
    assert ing.returncode == 0, ing.stderr
    assert json.loads(ing.stdout) == {"accepted": n, "duplicates": 0, "suppressed": 0,
                                      "rejected": 0, "rejected_file": None}
    prof = subprocess.run([*run, "profile", "c000001", "--db", db], capture_output=True,
                          text=True)
    assert prof.returncode == 0 and "c000001" in prof.stdout
