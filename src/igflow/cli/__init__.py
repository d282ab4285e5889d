"""The ``igflow`` command line (Typer + Rich): one module per command group.

``foundation`` holds serve, demo, db, user, backup and restore and assembles the groups: ``dose`` (and
``catalog``), ``schedule``, ``lots``, ``audit`` and ``worker``. ``python -m igflow.cli`` runs it too.
The app is loaded on first use, so ``python -m igflow.cli.dose`` does not import every group first.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    if name == "app":
        from igflow.cli.foundation import app

        return app
    raise AttributeError(name)
