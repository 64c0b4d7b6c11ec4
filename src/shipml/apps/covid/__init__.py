"""covid: a regional epidemic dashboard that refreshes itself from a published spreadsheet export."""

from __future__ import annotations

from pathlib import Path

from shipml.apps.covid.settings import CovidSettings, settings
from shipml.core.app import App, FirstRun, Schedule

DATASET = "covid.daily"
MODEL = "covid_cases_forecast"
FORECAST_DAYS = 14  # what the page shows

APP = App(
    name="covid",
    title="Covid dashboard",
    icon=":material/coronavirus:",
    router="shipml.apps.covid.api:router",
    dataset=DATASET,
    model=MODEL,
    ingest="shipml.apps.covid.tasks:ingest",
    models=("shipml.apps.covid.tasks:model_spec",),
    schedules=(Schedule("ingest", every_minutes=lambda: settings().refresh_minutes),),
    first_run=FirstRun(source=lambda: settings().source, refresh_at_start=True),
    page=Path(__file__).parent / "page.py",
    warm=(f"/forecast?days={FORECAST_DAYS}",),
    settings=CovidSettings,
)
