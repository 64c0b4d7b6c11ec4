"""cycling: pick a pro cyclist, get the most similar riders, races and teams (results from procyclingstats.com)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from shipml.apps.cycling.settings import CyclingSettings
from shipml.core.app import App


def _tasks() -> ModuleType:  # imported on first use: reading the declaration stays cheap
    from shipml.apps.cycling import tasks

    return tasks


def _api() -> ModuleType:
    from shipml.apps.cycling import api

    return api


DATASET = "cycling.results"
MODEL = "cycling_similarity"

APP = App(
    name="cycling",
    title="Cycling: similar riders",
    icon=":material/directions_bike:",
    router=lambda: _api().router,
    dataset=DATASET,
    model=MODEL,
    ingest=lambda source, progress: _tasks().ingest(source, progress),
    source_keywords=("synthetic", "scrape"),  # ?source=scrape: a polite scrape of procyclingstats.com
    models=lambda: [_tasks().similarity_spec()],
    prepare=lambda say: _tasks().prepare(say),
    page=Path(__file__).parent / "page.py",
    settings=CyclingSettings,
)
