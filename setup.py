"""Compiles the per-event hot path with mypyc when it can; everything else is in pyproject.toml.

The hot modules are plain, type-checked Python. mypyc turns them into C extensions, which
cut the pipeline's per-event cost by about a third (`intently bench` reports
`"compiled": true`). Without a C compiler, or with `INTENTLY_PURE_PYTHON=1`, the same modules
run as Python: slower, otherwise identical, and the test suite passes either way.
"""

from __future__ import annotations

import glob
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

# One list for the build and for `intently.compiled()`; see src/intently/_hot.py.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "src", "intently"))
from _hot import HOT_MODULES

sys.path.pop(0)


def _remove_compiled(*roots: str) -> None:
    """Delete compiled hot modules (an earlier build's): Python would import them instead of
    the source, and a module compiled without its shared library does not import at all."""
    names = {m.rsplit(".", 1)[1] for m in HOT_MODULES}
    for root in roots:
        for path in glob.glob(os.path.join(root, "**", "*.so"), recursive=True):
            name = os.path.basename(path)
            if "__mypyc" in name or name.split(".", 1)[0] in names:
                os.remove(path)


def _remove_orphans() -> None:
    """Before a build: delete compiled modules that are no longer hot (or no longer exist),
    which Python would still import in preference to their source, and the shared library of
    an earlier build (the new one has another name)."""
    hot = set(HOT_MODULES)
    for path in glob.glob(os.path.join("src", "*__mypyc*.so")):  # an earlier build's library
        os.remove(path)
    for path in glob.glob(os.path.join("src", "intently", "**", "*.so"), recursive=True):
        parts = os.path.relpath(path, "src").split(os.sep)
        module = ".".join([*parts[:-1], parts[-1].split(".", 1)[0]])
        if module not in hot:
            os.remove(path)


class OptionalBuildExt(build_ext):
    """Build the compiled modules if possible; if not, say so and install pure Python."""

    def run(self) -> None:
        self._failed = False
        try:
            super().run()
        except Exception as exc:  # no compiler, no headers: the Python modules still work
            self._skip(exc)
        if self._failed:  # all or nothing: partial builds do not import
            _remove_compiled("src", self.build_lib)

    def build_extension(self, ext):  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._skip(exc)

    def _skip(self, exc: Exception) -> None:
        self._failed = True
        print(f"intently: compiling the hot path failed ({exc}); installing pure Python",
              file=sys.stderr)


_BUILDS = ("build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install")


def _extensions() -> list:  # type: ignore[type-arg]
    if not any(arg in _BUILDS for arg in sys.argv[1:]):  # metadata only: nothing to compile
        return []
    if os.environ.get("INTENTLY_PURE_PYTHON", "") not in ("", "0"):
        _remove_compiled("src")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("intently: mypy is not available; installing pure Python", file=sys.stderr)
        _remove_compiled("src")
        return []
    _remove_orphans()
    paths = [os.path.join("src", *m.split(".")) + ".py" for m in HOT_MODULES]
    try:
        return mypycify(["--ignore-missing-imports", "--follow-imports=silent", *paths],
                        opt_level="3")
    except BaseException as exc:  # a type error stops mypyc with SystemExit
        print(f"intently: mypyc refused the hot path ({exc}); installing pure Python",
              file=sys.stderr)
        _remove_compiled("src")
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
