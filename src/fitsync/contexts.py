"""The bounded contexts that make up FitSync, in one list.

For each name, the composition root picks up what the package provides:
``fitsync.<name>.models`` (tables, for Alembic), ``.endpoints`` (``router``, mounted
under ``/api/v1``) and ``.handlers`` (event consumers). Adding a context is adding
its name here.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

CONTEXTS: tuple[str, ...] = (
    "identity",
    "gyms",
    "training",
    "scheduling",
    "progress",
    "billing",
    "notifications",
    "messaging",
)


def modules(kind: str) -> list[ModuleType]:
    """``fitsync.<context>.<kind>`` for every context that has such a module."""
    found = []
    for name in CONTEXTS:
        spec = importlib.util.find_spec(f"fitsync.{name}.{kind}")
        if spec is not None:
            found.append(importlib.import_module(f"fitsync.{name}.{kind}"))
    return found
