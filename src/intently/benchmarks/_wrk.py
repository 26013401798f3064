"""Load from wrk (Debian's `wrk`, a C load generator): it takes a fraction of the CPU a Python
client would, so on two cores a figure is the server's rather than the client's."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def run_wrk(url: str, script: str, tmp: Path, seconds: int, connections: int) -> str:
    """wrk's report of `connections` connections for `seconds`, each request made by the Lua
    `script`, with latency percentiles; RuntimeError when any answer was not 2xx or 3xx."""
    path = tmp / "requests.lua"
    path.write_text(script)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(path), url], capture_output=True, text=True,
                         check=True).stdout
    if re.search(r"Requests/sec:\s+[\d.]+", out) is None or "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    return out


def requests_per_s(out: str) -> float:
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert found is not None  # run_wrk checked
    return float(found.group(1))


def latency_ms(out: str, percentile: str) -> float:
    """A latency percentile of the report ("50%", "99%") in milliseconds."""
    m = re.search(rf"^\s*{percentile}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if m is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
