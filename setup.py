"""Compiles the per-event hot path with mypyc when it can; everything else is in pyproject.toml.

The hot modules are plain, type-checked Python. mypyc turns them into C extensions, which
cut the pipeline's per-event cost by about a third (`intently bench` reports
`"compiled": true`). Without a C compiler, or with `INTENTLY_PURE_PYTHON=1`, the same modules
run as Python: slower, otherwise identical, and the test suite passes either way.
"""

from __future__ import annotations

import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

# One list for the build and for `intently.compiled()`; see src/intently/_hot.py.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "src", "intently"))
from _hot import HOT_MODULES

sys.path.pop(0)


class OptionalBuildExt(build_ext):
    """Build the compiled modules if possible; if not, say so and install pure Python."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler, no headers: the Python modules still work
            self._skip(exc)

    def build_extension(self, ext):  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._skip(exc)

    def _skip(self, exc: Exception) -> None:
        print(f"intently: compiling the hot path failed ({exc}); installing pure Python",
              file=sys.stderr)


_BUILDS = ("build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install")


def _extensions() -> list:  # type: ignore[type-arg]
    if os.environ.get("INTENTLY_PURE_PYTHON", "") not in ("", "0"):
        return []
    if not any(arg in _BUILDS for arg in sys.argv[1:]):  # metadata only: nothing to compile
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("intently: mypy is not available; installing pure Python", file=sys.stderr)
        return []
    paths = [os.path.join("src", *m.split(".")) + ".py" for m in HOT_MODULES]
    try:
        return mypycify(["--ignore-missing-imports", "--follow-imports=silent", *paths],
                        opt_level="3")
    except BaseException as exc:  # a type error stops mypyc with SystemExit
        print(f"intently: mypyc refused the hot path ({exc}); installing pure Python",
              file=sys.stderr)
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
