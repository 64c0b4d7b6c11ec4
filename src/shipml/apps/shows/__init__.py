"""shows: TV show recommendations from a few liked titles, retrained as ratings arrive."""

from __future__ import annotations

from pathlib import Path

from shipml.apps.shows.settings import ShowsSettings, settings
from shipml.core.app import App, FirstRun, Option, Schedule

EVAL_OPTIONS = (
    Option("ratings", "any ratings file (CSV, TSV or '::'); default: the latest export of the ratings store"),
    Option("user-col", "the user id column of --ratings", default="user"),
    Option("item-col", "the item id column of --ratings", default="item"),
    Option("rating-col", "the rating column of --ratings (none = implicit: every row is a like)"),
    Option("min-rating", "a like is a rating >= this (default: >= the user's own mean)", type=float),
    Option("given", "N: each held-out user gives N random liked items (seeded), the rest are the targets; "
           "refused when fewer than 20 users qualify", type=int),
)

DATASET = "shows.ratings"
MODEL = "shows_recommender"

APP = App(
    name="shows",
    title="TV show recommendations",
    icon=":material/live_tv:",
    router="shipml.apps.shows.api:router",
    dataset=DATASET,
    model=MODEL,
    ingest="shipml.apps.shows.tasks:ingest",
    models=("shipml.apps.shows.tasks:model_spec",),
    evaluate="shipml.apps.shows.tasks:evaluate",
    eval_options=EVAL_OPTIONS,
    jobs="shipml.apps.shows.tasks:register_jobs",
    schedules=(Schedule("train", every_minutes=lambda: settings().retrain_minutes),),
    first_run=FirstRun(source=lambda: settings().source, quick="shipml.apps.shows.tasks:quick_spec"),
    page=Path(__file__).parent / "page.py",
    settings=ShowsSettings,
)
