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
