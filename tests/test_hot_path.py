"""The hot path compiles with mypyc only while it type-checks: a type error there would not fail
the build (setup.py falls back to pure Python, a third slower), so this test fails instead."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

from intently._hot import HOT_MODULES

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.mark.slow
def test_the_hot_path_type_checks_as_mypyc_needs() -> None:
    paths = [str(SRC.joinpath(*m.split(".")).with_suffix(".py")) for m in HOT_MODULES]
    out, err, status = api.run(["--ignore-missing-imports", "--follow-imports=silent",
                                "--cache-dir", str(SRC.parent / ".mypy_cache"), *paths])
    assert status == 0, out + err
