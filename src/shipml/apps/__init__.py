"""The installed apps. Each is a package whose ``__init__.py`` declares ``APP = App(...)`` (see
:mod:`shipml.core.app`); adding an app is its folder plus one line here.

The core never imports an app; the entry points (API, worker, CLI, launcher, UI) get the declarations here.
"""

from __future__ import annotations

import importlib

from shipml.core.app import App

INSTALLED: tuple[str, ...] = (
    "covid",
    "cycling",
    "shows",
    "race",
    "parking",
)


def installed() -> list[App]:
    """Every installed app's declaration, in the order above."""
    return [get(name) for name in INSTALLED]


def get(name: str) -> App:
    """One app's declaration; an unknown name lists the installed ones."""
    if name not in INSTALLED:
        from shipml.core.errors import NotFound

        raise NotFound(f"unknown app '{name}'; installed apps: {', '.join(INSTALLED)}")
    app: App = importlib.import_module(f"shipml.apps.{name}").APP
    return app
