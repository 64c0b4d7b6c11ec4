"""shows: TV show recommendations from a few liked titles, retrained as ratings arrive."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from shipml.apps.shows.settings import ShowsSettings, settings
from shipml.core.app import App, Option, Schedule


def _tasks() -> ModuleType:  # imported on first use: reading the declaration stays cheap
    from shipml.apps.shows import tasks

    return tasks


def _api() -> ModuleType:
    from shipml.apps.shows import api

    return api


EVAL_OPTIONS = (
    Option("ratings", "any ratings file (CSV, TSV or '::'); default: the latest export of the ratings store"),
    Option("user-col", "the user id column of --ratings", default="user"),
    Option("item-col", "the item id column of --ratings", default="item"),
    Option("rating-col", "the rating column of --ratings (none = implicit: every row is a like)"),
    Option("min-rating", "a like is a rating >= this (default: >= the user's own mean)", type=float),
)

DATASET = "shows.ratings"
MODEL = "shows_recommender"

APP = App(
    name="shows",
    title="TV show recommendations",
    icon=":material/live_tv:",
    router=lambda: _api().router,
    dataset=DATASET,
    model=MODEL,
    ingest=lambda source, progress: _tasks().ingest(source, progress),
    models=lambda: [_tasks().recommender_spec()],
    evaluate=lambda **options: _tasks().evaluate(**options),
    eval_options=EVAL_OPTIONS,
    jobs=lambda: _tasks().register_jobs(),
    schedules=lambda: [Schedule("train", every_minutes=lambda: settings().retrain_minutes)],
    prepare=lambda say: _tasks().prepare(say),
    page=Path(__file__).parent / "page.py",
    settings=ShowsSettings,
)
