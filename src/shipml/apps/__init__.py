"""The installed apps. Each is a package with the same rooms: data, model, api, tasks, page.

The core never imports an app; the entry points (API factory, worker, CLI, UI) find them here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

INSTALLED: tuple[str, ...] = ("covid", "cycling", "shows")


def module(app: str, room: str) -> ModuleType:
    """Import ``shipml.apps.<app>.<room>`` (e.g. ``api``, ``tasks``)."""
    return importlib.import_module(f"shipml.apps.{app}.{room}")


def rooms(room: str) -> dict[str, ModuleType]:
    return {app: module(app, room) for app in INSTALLED}
