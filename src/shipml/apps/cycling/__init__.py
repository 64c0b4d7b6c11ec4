"""cycling: pick a pro cyclist, get the most similar riders, races and teams (results from procyclingstats.com)."""

from __future__ import annotations

from pathlib import Path

from shipml.apps.cycling.settings import PCS, CyclingSettings, settings
from shipml.core.app import App, FirstRun

DATASET = "cycling.results"
MODEL = "cycling_similarity"

APP = App(
    name="cycling",
    title="Cycling: similar riders",
    icon=":material/directions_bike:",
    router="shipml.apps.cycling.api:router",
    dataset=DATASET,
    model=MODEL,
    ingest="shipml.apps.cycling.tasks:ingest",
    source_keywords=("synthetic", "scrape"),  # ?source=scrape: a polite scrape of procyclingstats.com
    models=("shipml.apps.cycling.tasks:model_spec",),
    # the default source, a scrape of procyclingstats.com, takes ~35 min the first time: queued, on synthetic meanwhile
    first_run=FirstRun(source=lambda: settings().source, background={"scrape": PCS}),
    page=Path(__file__).parent / "page.py",
    warm=("/riders?limit=1000", "/map", "/races"),
    settings=CyclingSettings,
)
