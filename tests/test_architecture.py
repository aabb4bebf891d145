"""Context boundaries: other contexts are reached only through `public` and `events`."""

from __future__ import annotations

import ast
from pathlib import Path

from fitsync.contexts import CONTEXTS

SRC = Path(__file__).resolve().parent.parent / "src" / "fitsync"
ALLOWED = {"public", "events"}


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def test_contexts_use_only_each_others_public_api() -> None:
    violations = []
    for context in CONTEXTS:
        for path in (SRC / context).rglob("*.py"):
            for name in _imports(path):
                parts = name.split(".")
                foreign = len(parts) >= 3 and parts[0] == "fitsync" and parts[1] in CONTEXTS
                if foreign and parts[1] != context and parts[2] not in ALLOWED:
                    violations.append(f"{path.relative_to(SRC)} imports {name}")
    assert violations == []


def test_kernel_depends_on_no_context() -> None:
    violations = [
        f"{path.relative_to(SRC)} imports {name}"
        for path in (SRC / "kernel").rglob("*.py")
        for name in _imports(path)
        if name.split(".")[:2] in ([["fitsync", c] for c in CONTEXTS])
    ]
    assert violations == []


def test_only_the_kernel_commits() -> None:
    offenders = [
        str(path.relative_to(SRC))
        for context in CONTEXTS
        for path in (SRC / context).rglob("*.py")
        if ".commit(" in path.read_text()
    ]
    assert offenders == []
