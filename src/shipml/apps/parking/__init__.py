"""Parking: the chance of a free street parking space in each Madrid SER neighbourhood, on a map.

Pure, platform-independent parts: importers (:mod:`.tickets`, :mod:`.spaces`, :mod:`.occupancy`), the hourly
aggregation (:mod:`.aggregation`), the regulation calendar (:mod:`.calendar`), geography (:mod:`.geo`,
:mod:`.addresses`), the ticket simulator (:mod:`.synthetic`), forecasters (:mod:`.forecasters`) and the
rolling-origin backtest (:mod:`.backtest`). On the platform: settings, bundled reference files (:mod:`.bundle`),
ingest (:mod:`.ingest`), the served family of forecasts (:mod:`.model`), the lifecycle spec (:mod:`.tasks`), the
API (:mod:`.api`), the Spark path (:mod:`.spark`) and the map page (``page.py``).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from shipml.apps.parking.settings import ParkingSettings, settings
from shipml.core.app import App, Option, Schedule


def _tasks() -> ModuleType:  # imported on first use: reading the declaration stays cheap
    from shipml.apps.parking import tasks

    return tasks


def _api() -> ModuleType:
    from shipml.apps.parking import api

    return api


EVAL_OPTIONS = (
    Option("occupancy", "an occupancy CSV (id, time, capacity, occupied or free); default: the ticket data"),
    Option("id-col", "the car park / series id column"),
    Option("time-col", "the time column"),
    Option("capacity-col", "the capacity column"),
    Option("occupied-col", "occupied spaces (or give --free-col)"),
    Option("free-col", "free spaces (occupied = capacity - free)"),
    Option("names", "column names, comma-separated, for a file without a header"),
    Option("freq", "slot length, e.g. 30min or 1h", default="30min"),
    Option("horizon", "forecast horizon, e.g. 1d or 6h", default="1d"),
    Option("origins", "rolling origins (days)", type=int, default=14),
    Option("models", "models, comma-separated (default: all five)"),
)

DATASET = "parking_occupancy"
MODEL = "parking_availability"

APP = App(
    name="parking",
    title="Parking forecast",
    icon=":material/local_parking:",
    router=lambda: _api().router,
    dataset=DATASET,
    model=MODEL,
    ingest=lambda source, progress: _tasks().ingest(source, progress),
    models=lambda: [_tasks().spec()],
    evaluate=lambda progress, **options: _tasks().evaluate(progress, **options),
    eval_options=EVAL_OPTIONS,
    schedules=lambda: [Schedule("ingest", every_minutes=lambda: settings().refresh_minutes)],
    prepare=lambda say: _tasks().prepare(say),
    page=Path(__file__).parent / "page.py",
    settings=ParkingSettings,
)
