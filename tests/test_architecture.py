"""The tree's rules that import-linter cannot say: no package reaches into another package's
private modules (`from ..engine._jobs import ...`); each uses what the other exports."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "intently"


def _imports(path: Path) -> list[tuple[int, list[str]]]:
    """(line, the absolute module path) of each relative import in a module of the package."""
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    package = parts[:-1]  # a module's package; a package's __init__ is its own package
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            found.append((node.lineno, base + (node.module.split(".") if node.module else [])))
    return found


def test_no_package_imports_another_packages_private_modules() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        own = path.relative_to(SRC).parts[0]
        for line, target in _imports(path):
            if len(target) > 2 and target[1] != own and any(
                    p.startswith("_") for p in target[2:]):
                offenders.append(f"{path.relative_to(SRC)}:{line} {'.'.join(target)}")
    assert offenders == [], "\n".join(offenders)


SURFACES = ("api", "cli", "_views.py", "app.py")
ENGINE_PARTS = {"store", "pipeline", "state", "_segments", "_scenarios", "models"}


def test_surfaces_use_the_engines_verbs_not_its_parts() -> None:
    """The CLI, the API, the dashboard's reads and the composition root go through the engine's
    verbs and its ports (`read_models`, `catalog`, `outbox`), never its runner's parts."""
    offenders = []
    for name in SURFACES:
        root = SRC / name
        for path in ([root] if root.is_file() else root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Attribute) and node.attr in ENGINE_PARTS
                        and isinstance(node.value, ast.Name | ast.Attribute)
                        and (node.value.id if isinstance(node.value, ast.Name)
                             else node.value.attr) in ("engine", "e", "reader")):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno} .{node.attr}")
    assert offenders == [], "\n".join(offenders)
