"""Parking: the chance of a free street parking space in each Madrid SER neighbourhood, on a map.

Pure, platform-independent parts: importers (:mod:`.tickets`, :mod:`.spaces`, :mod:`.occupancy`), the hourly
aggregation (:mod:`.aggregation`), the regulation calendar (:mod:`.calendar`), geography (:mod:`.geo`,
:mod:`.addresses`), the ticket simulator (:mod:`.synthetic`), forecasters (:mod:`.forecasters`) and the
rolling-origin backtest (:mod:`.backtest`). On the platform: settings, bundled reference files (:mod:`.bundle`),
ingest (:mod:`.ingest`), the served family of forecasts (:mod:`.model`), the lifecycle spec (:mod:`.tasks`), the
API (:mod:`.api`), the Spark path (:mod:`.spark`) and the map page (``page.py``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from shipml.apps.parking.settings import ParkingSettings, settings
from shipml.core.app import App, FirstRun, Option, Schedule

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
    Option("min-history", "history a series needs before an origin, e.g. 14d or 2w (default 2w; 1w for the seasonal "
                          "naive alone)"),
    Option("models", "models, comma-separated (default: all five)"),
    Option("engine", "embedded (this process) or spark (SHIPML_SPARK_MASTER: each series × origin a task; for many "
                     "series × origins on a cluster); default: spark if SHIPML_PARKING_ENGINE=spark"),
)

DATASET = "parking_occupancy"
MODEL = "parking_availability"



def _first_day(path: str) -> str:
    """``path`` for the day the page opens on (the next fully regulated day), as its first visitor asks it."""
    from shipml.apps.parking.calendar import next_full_day

    day = next_full_day(date.today())
    return path.format(day=day.isoformat())


APP = App(
    name="parking",
    title="Parking forecast",
    icon=":material/local_parking:",
    router="shipml.apps.parking.api:router",
    dataset=DATASET,
    model=MODEL,
    ingest="shipml.apps.parking.tasks:ingest",
    models=("shipml.apps.parking.tasks:model_spec",),
    evaluate="shipml.apps.parking.tasks:evaluate",
    eval_options=EVAL_OPTIONS,
    schedules=(Schedule("ingest", every_minutes=lambda: settings().refresh_minutes),),
    # the two fast candidates first, so the first start stays within about a minute
    first_run=FirstRun(source=lambda: settings().source, quick="shipml.apps.parking.tasks:quick_spec"),
    page=Path(__file__).parent / "page.py",
    warm=("/streets", lambda: _first_day("/map?at={day}T12:00"), lambda: _first_day("/map/day?date={day}")),
    settings=ParkingSettings,
)
