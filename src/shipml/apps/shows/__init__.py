"""shows: TV show recommendations from a few liked titles, retrained as ratings arrive."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipml.apps.shows.settings import ShowsSettings, settings
from shipml.core.app import App, Option, Schedule
from shipml.core.progress import Progress, no_progress

if TYPE_CHECKING:
    from fastapi import APIRouter

    from shipml.core.training import ModelSpec


def _router() -> APIRouter:
    from shipml.apps.shows.api import router

    return router


def _status() -> dict[str, Any]:
    from shipml.apps.shows.tasks import status

    return status()


def _ingest(source: str | None, progress: Progress) -> dict[str, Any]:
    from shipml.apps.shows.tasks import ingest

    return ingest(source, progress)


def _models() -> list[ModelSpec[Any]]:
    from shipml.apps.shows.tasks import recommender_spec

    return [recommender_spec()]


def _evaluate(progress: Progress = no_progress, **options: Any) -> list[dict[str, Any]]:
    from shipml.apps.shows.tasks import evaluate

    return evaluate(progress=progress, **options)


def _jobs() -> None:
    from shipml.apps.shows.tasks import register_jobs

    register_jobs()


def _prepare(say: Any) -> None:
    from shipml.apps.shows.tasks import prepare

    prepare(say)


EVAL_OPTIONS = (
    Option("ratings", "any ratings file (CSV, TSV or '::'); default: the latest export of the ratings store"),
    Option("user-col", "the user id column of --ratings", default="user"),
    Option("item-col", "the item id column of --ratings", default="item"),
    Option("rating-col", "the rating column of --ratings (none = implicit: every row is a like)"),
    Option("min-rating", "a like is a rating >= this (default: >= the user's own mean)", type=float),
)

APP = App(
    name="shows",
    title="TV show recommendations",
    icon=":material/live_tv:",
    router=_router,
    status=_status,
    ingest=_ingest,
    models=_models,
    evaluate=_evaluate,
    eval_options=EVAL_OPTIONS,
    jobs=_jobs,
    schedules=lambda: [Schedule("train", every_minutes=lambda: settings().retrain_minutes)],
    prepare=_prepare,
    page=Path(__file__).parent / "page.py",
    settings=ShowsSettings,
)
