"""cycling: pick a pro cyclist, get the most similar riders, races and teams (results from procyclingstats.com)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipml.apps.cycling.settings import CyclingSettings
from shipml.core.app import App
from shipml.core.progress import Progress

if TYPE_CHECKING:
    from fastapi import APIRouter

    from shipml.core.training import ModelSpec


def _router() -> APIRouter:
    from shipml.apps.cycling.api import router

    return router


def _status() -> dict[str, Any]:
    from shipml.apps.cycling.tasks import status

    return status()


def _ingest(source: str | None, progress: Progress) -> dict[str, Any]:
    from shipml.apps.cycling.tasks import ingest

    return ingest(source, progress)


def _models() -> list[ModelSpec[Any]]:
    from shipml.apps.cycling.tasks import similarity_spec

    return [similarity_spec()]


def _prepare(say: Any) -> None:
    from shipml.apps.cycling.tasks import prepare

    prepare(say)


APP = App(
    name="cycling",
    title="Cycling: similar riders",
    icon=":material/directions_bike:",
    router=_router,
    status=_status,
    ingest=_ingest,
    models=_models,
    prepare=_prepare,
    page=Path(__file__).parent / "page.py",
    settings=CyclingSettings,
)
