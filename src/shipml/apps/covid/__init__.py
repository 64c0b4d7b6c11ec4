"""covid: a regional epidemic dashboard that refreshes itself from a published spreadsheet export."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from shipml.apps.covid.settings import CovidSettings, settings
from shipml.core.app import App, Schedule


def _tasks() -> ModuleType:  # imported on first use: reading the declaration stays cheap
    from shipml.apps.covid import tasks

    return tasks


def _api() -> ModuleType:
    from shipml.apps.covid import api

    return api


DATASET = "covid.daily"
MODEL = "covid_cases_forecast"

APP = App(
    name="covid",
    title="Covid dashboard",
    icon=":material/coronavirus:",
    router=lambda: _api().router,
    dataset=DATASET,
    model=MODEL,
    ingest=lambda source, progress: _tasks().ingest(source, progress),
    models=lambda: [_tasks().model_spec()],
    schedules=lambda: [Schedule("ingest", every_minutes=lambda: settings().refresh_minutes)],
    prepare=lambda say: _tasks().prepare(say),
    page=Path(__file__).parent / "page.py",
    settings=CovidSettings,
)
