"""The app contract: everything an app tells the platform, in one object.

An app is a folder ``shipml/apps/<name>/`` whose ``__init__.py`` defines ``APP = App(...)``, plus one line in
``shipml/apps/__init__.py``. From the declaration the platform builds the app's routes under ``/api/<name>``
(its own router plus ``status``, ``ingest``, ``train`` and ``eval``), its jobs (``<name>.ingest``,
``<name>.train``, ``<name>.eval`` and the app's own), its schedules, the CLI verbs (``shipml ingest|train|eval
<name>`` with the options it declares), its health entry, its page in the UI's navigation and the services
``shipml up`` starts and supervises. The core never imports an app: it only reads these declarations.

Everything heavy (routers, models, training) is reached through functions the declaration holds, so reading
an app's declaration (the UI does, for its navigation) imports almost nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipml.core.progress import Progress

if TYPE_CHECKING:
    from fastapi import APIRouter
    from rich.console import Console

    from shipml.core.training import ModelSpec

Say = Callable[[str], None]


@dataclass(frozen=True)
class Option:
    """An app-specific option of a CLI verb (``shipml eval APP --ratings PATH``), passed to the app's function
    as a keyword argument named ``name`` (dashes become underscores)."""

    name: str
    help: str
    type: type = str
    default: Any = None
    is_flag: bool = False


@dataclass(frozen=True)
class Schedule:
    """A periodic job: ``<app>.<job>`` every ``every_minutes`` (read from the app's settings when a callable).

    The period must fit a clock: a divisor of 60 minutes, a whole number of hours dividing a day, or one day (run at
    00:00 UTC). It is enqueued once per period however many workers run."""

    job: str
    every_minutes: int | Callable[[], int]
    params: Mapping[str, Any] = field(default_factory=dict)

    def minutes(self) -> int:
        return self.every_minutes() if callable(self.every_minutes) else self.every_minutes


@dataclass(frozen=True)
class Service:
    """A long-running process of an app (a stream consumer, a processor). ``shipml up`` starts ``run`` in its own
    process (``shipml service <app> <name>``), restarts it with backoff when it dies and stops it on Ctrl-C;
    the service reports its heartbeat and lag with :func:`shipml.core.services.beat`, shown in ``/api/health``.
    ``enabled`` says whether it should run with the current settings (e.g. only when a broker URL is set)."""

    name: str
    run: Callable[[], None]
    description: str = ""
    enabled: Callable[[], bool] = lambda: True
    stale_seconds: float = 30.0


@dataclass(frozen=True)
class App:
    """What an app declares. Only ``name`` and ``title`` are required.

    Attributes:
        name: the URL and CLI name (``/api/<name>``, ``shipml train <name>``).
        title, icon: for the UI navigation (a Material icon such as ``:material/sprint:``).
        dataset: the name of the dataset its status shows (freshness and last refresh).
        model: the name of the registered model it serves; an app that names one has ``shipml train|eval <name>``
            (known without importing its training stack).
        router: returns the app's own FastAPI router (mounted under ``/api/<name>``).
        status: the app's own status, for ``/api/health`` and the home page; by default the platform's
            (:func:`shipml.core.platform.status`: the declared dataset's freshness and the model's champion).
        ingest: ``(source | None, progress) -> summary``; refreshes the app's data (``shipml ingest``).
        ingest_options: extra CLI options of ``shipml ingest <name>``.
        models: the app's model specs; ``train`` runs :func:`shipml.core.training.select_and_promote` on each.
        evaluate: ``(progress, **options) -> rows``; ``shipml eval`` (defaults to the candidates' table).
        eval_options: extra CLI options of ``shipml eval <name>``.
        jobs: registers the app's own jobs (imported by the worker and the API at start).
        schedules: periodic jobs.
        services: long-running processes.
        prepare: what ``shipml up`` does first: data (synthetic when offline) and models where there are none.
        page: the app's Streamlit page script.
        commands: extra CLI verbs, as a ``typer.Typer`` factory mounted as ``shipml <name> ...``.
        source_keywords: the words (not paths) the app's ingest takes as a source through the API (``?source=``);
            any other source there is a URL or a file under the allowed folders (:mod:`shipml.core.sources`).
        retrain_after_ingest: after an ingest that stored new data, queue one (debounced) training.
        settings: the app's settings class (variables keep their ``SHIPML_<APP>_…`` names), for docs and checks.
    """

    name: str
    title: str
    icon: str = ":material/apps:"
    dataset: str | None = None
    model: str | None = None
    status: Callable[[], dict[str, Any]] | None = None
    router: Callable[[], APIRouter] | None = None
    ingest: Callable[[str | None, Progress], dict[str, Any]] | None = None
    ingest_options: Sequence[Option] = ()
    source_keywords: Sequence[str] = ("synthetic",)
    models: Callable[[], Sequence[ModelSpec[Any, Any]]] = lambda: ()
    evaluate: Callable[..., list[dict[str, Any]]] | None = None
    eval_options: Sequence[Option] = ()
    jobs: Callable[[], None] = lambda: None
    schedules: Callable[[], Sequence[Schedule]] = lambda: ()
    services: Callable[[], Sequence[Service]] = lambda: ()
    prepare: Callable[[Say], None] | None = None
    page: Path | None = None
    commands: Callable[[], Any] | None = None
    retrain_after_ingest: bool = True
    settings: type | None = None

    @property
    def trains(self) -> bool:
        """Whether the app has models to train or evaluate (read from the declaration: nothing imported)."""
        return self.model is not None or self.evaluate is not None

    def service(self, name: str) -> Service:
        for service in self.services():
            if service.name == name:
                return service
        known = ", ".join(s.name for s in self.services()) or "none"
        from shipml.core.errors import NotFound

        raise NotFound(f"app '{self.name}' has no service '{name}'; its services: {known}")


def say_to(console: Console) -> Say:
    return lambda message: console.print(message)
