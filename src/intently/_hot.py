"""The hot path: the modules every event runs through, compiled with mypyc when installed
from source with a C compiler at hand (see setup.py). No intently imports here: the build
reads the list.

Python imports a compiled module in preference to its source, so after editing a hot module
rebuild it (`make` does, `pip install -e .` too); `python -m intently._hot` says whether any
is stale, and the test suite refuses to run on stale ones."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HOT_MODULES = (
    "intently.engine._pipeline",
    "intently.engine._state",
    "intently.engine._timers",
    "intently.events._bounds",
    "intently.events._checks",
    "intently.events._time",
    "intently.events.signals",
    "intently.intent._clusters",
    "intently.intent._model",
    "intently.intent._scorer",
    "intently.profiles._aggregates",
    "intently.profiles._decode",
    "intently.profiles._items",
    "intently.profiles._record",
    "intently.profiles._resolve",
    "intently.profiles._touch",
    "intently.scenarios._book",
    "intently.segments._book",
    "intently.segments._compile",
    "intently.segments._counters",
    "intently.segments._evaluate",
)


def _origins() -> dict[str, Path]:
    found = {}
    for name in HOT_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            found[name] = Path(spec.origin)
    return found


def compiled() -> bool:
    """Whether the hot path runs compiled (every hot module is a C extension)."""
    origins = _origins()
    return len(origins) == len(HOT_MODULES) and all(
        p.suffix != ".py" for p in origins.values())


def stale() -> list[str]:
    """Compiled hot modules whose source changed after they were built; and, where some hot
    modules are compiled, those that are not (a partial build: compiled modules refuse the
    source ones' objects)."""
    out = []
    origins = _origins()
    partial = any(p.suffix != ".py" for p in origins.values())
    for name, origin in origins.items():
        source = origin.with_name(name.rsplit(".", 1)[1] + ".py")
        if origin.suffix == ".py":
            newer = partial  # not compiled, while others are
        else:
            newer = source.exists() and source.stat().st_mtime > origin.stat().st_mtime
        if newer:
            out.append(name)
    return out


if __name__ == "__main__":
    old = stale()
    if old:
        print(f"stale compiled modules (rebuild with `pip install -e .`): {', '.join(old)}")
    sys.exit(1 if old else 0)
