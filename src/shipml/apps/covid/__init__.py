"""covid: a regional epidemic dashboard that refreshes itself from a published spreadsheet export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipml.apps.covid.settings import CovidSettings, settings
from shipml.core.app import App, Schedule
from shipml.core.progress import Progress

if TYPE_CHECKING:
    from fastapi import APIRouter

    from shipml.core.training import ModelSpec


def _router() -> APIRouter:
    from shipml.apps.covid.api import router

    return router


def _status() -> dict[str, Any]:
    from shipml.apps.covid.tasks import status

    return status()


def _ingest(source: str | None, progress: Progress) -> dict[str, Any]:
    from shipml.apps.covid.tasks import ingest

    return ingest(source, progress)


def _models() -> list[ModelSpec[Any]]:
    from shipml.apps.covid.tasks import forecast_spec

    return [forecast_spec()]


def _prepare(say: Any) -> None:
    from shipml.apps.covid.tasks import prepare

    prepare(say)


APP = App(
    name="covid",
    title="Covid dashboard",
    icon=":material/coronavirus:",
    router=_router,
    status=_status,
    ingest=_ingest,
    models=_models,
    schedules=lambda: [Schedule("ingest", every_minutes=lambda: settings().refresh_minutes)],
    prepare=_prepare,
    page=Path(__file__).parent / "page.py",
    settings=CovidSettings,
)
