"""The app contract: everything an app tells the platform, in one object.

An app is a folder ``shipml/apps/<name>/`` whose ``__init__.py`` defines ``APP = App(...)``, plus one line in
``shipml/apps/__init__.py``. From the declaration the platform builds the app's routes under ``/api/<name>``
(its own router plus ``status``, ``ingest``, ``train`` and ``eval``), its jobs (``<name>.ingest``,
``<name>.train``, ``<name>.eval`` and the app's own), its schedules, the CLI verbs (``shipml ingest|train|eval
<name>`` with the options it declares), its health entry, its page in the UI's navigation and the services
``shipml up`` starts and supervises. The core never imports an app: it only reads these declarations.

Everything heavy (routers, models, training) is named by an entry point, an import string
``"package.module:attribute"`` that :func:`resolve` imports on first use, so reading an app's declaration (the UI
and ``shipml --help`` do) imports almost nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from shipml.core.training import ModelSpec

Say = Callable[[str], None]
EntryPoint = str
"""An import string, ``"package.module:attribute"``: what a declaration names instead of importing it."""


def resolve(entry_point: EntryPoint) -> Any:
    """The object an entry point names, imported on first use (the one way the platform reaches an app's code)."""
    module, _, attribute = entry_point.partition(":")
    if not module or not attribute:
        raise ValueError(f"an entry point is 'package.module:attribute', not {entry_point!r}")
    target: Any = importlib.import_module(module)
    for name in attribute.split("."):
        target = getattr(target, name)
    return target


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
    ``run`` and ``enabled`` are entry points of functions without arguments; ``enabled`` says whether it should run
    with the current settings (e.g. only when a broker URL is set; always when not given)."""

    name: str
    run: EntryPoint
    description: str = ""
    enabled: EntryPoint | None = None
    stale_seconds: float = 30.0

    def is_enabled(self) -> bool:
        return self.enabled is None or bool(resolve(self.enabled)())

    def start(self) -> None:
        resolve(self.run)()


@dataclass(frozen=True)
class FirstRun:
    """What ``shipml up`` does for an app before it serves: the platform's one first-run policy
    (:func:`shipml.core.first_run.prepare`), declared.

    Data: when nothing is stored, or the stored data is synthetic while a real source is configured, the configured
    ``source`` is ingested; when it cannot be read, the app serves its labelled ``synthetic`` data (when nothing is
    stored) or its last good data, and says so. ``refresh_at_start`` refreshes real data too (a cheap source that
    changes often). A source named in ``background`` (a scrape that takes half an hour) is queued as an ingest job
    instead, when the address it maps to answers; the app starts on synthetic data meanwhile.

    Model: when there is no champion, or the data was just replaced, the lifecycle runs on ``quick`` (an entry point
    of a function returning a :class:`ModelSpec` of the cheapest candidates) or else on the app's models.
    """

    source: Callable[[], str]
    synthetic: str = "synthetic"
    refresh_at_start: bool = False
    background: Mapping[str, str] = field(default_factory=dict)
    quick: EntryPoint | None = None


@dataclass(frozen=True)
class App:
    """What an app declares. Only ``name`` and ``title`` are required.

    Attributes:
        name: the URL and CLI name (``/api/<name>``, ``shipml train <name>``).
        title, icon: for the UI navigation (a Material icon such as ``:material/sprint:``).
        dataset: the name of the dataset its status shows (freshness and last refresh).
        model: the name of the registered model it serves.
        router: the app's own FastAPI router (entry point of an ``APIRouter``), mounted under ``/api/<name>``.
        status: the app's own status (entry point of a function), for ``/api/health`` and the home page; by default
            the platform's (:func:`shipml.core.platform.status`: the declared dataset's freshness and the champion).
        ingest: ``(source | None, progress) -> summary``; refreshes the app's data (``shipml ingest``), through
            :func:`shipml.core.datasets.refresh`.
        ingest_options: extra CLI options of ``shipml ingest <name>``.
        models: entry points of functions returning a :class:`~shipml.core.training.ModelSpec`; ``train`` runs
            :func:`shipml.core.training.select_and_promote` on each.
        evaluate: ``(progress, **options) -> rows``; ``shipml eval`` (defaults to the candidates' table).
        eval_options: extra CLI options of ``shipml eval <name>``.
        jobs: registers the app's own jobs (imported by the worker and the API at start).
        schedules: periodic jobs.
        services: long-running processes.
        first_run: the data and first champion ``shipml up`` gets ready before serving (:class:`FirstRun`).
        prepare: an app's own first-run step beyond data and models (the race defines its demo race).
        page: the app's Streamlit page script.
        warm: API paths under ``/api/<name>`` (with their query; a callable for one that depends on the day) that the
            page asks on a first visit; ``shipml up`` asks each once the app is ready, so that the first visitor does
            not pay the cold caches (loading the champion, a first computation).
        commands: extra CLI verbs (entry point of a ``typer.Typer``), mounted as ``shipml <name> ...``.
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
    status: EntryPoint | None = None
    router: EntryPoint | None = None
    ingest: EntryPoint | None = None
    ingest_options: Sequence[Option] = ()
    source_keywords: Sequence[str] = ("synthetic",)
    models: Sequence[EntryPoint] = ()
    evaluate: EntryPoint | None = None
    eval_options: Sequence[Option] = ()
    jobs: EntryPoint | None = None
    schedules: Sequence[Schedule] = ()
    services: Sequence[Service] = ()
    first_run: FirstRun | None = None
    prepare: EntryPoint | None = None
    page: Path | None = None
    warm: Sequence[str | Callable[[], str]] = ()
    commands: EntryPoint | None = None
    retrain_after_ingest: bool = True
    settings: type | None = None

    @property
    def trains(self) -> bool:
        """Whether the app has models to train or evaluate (read from the declaration: nothing imported)."""
        return bool(self.models) or self.evaluate is not None

    def model_specs(self) -> list[ModelSpec[Any, Any]]:
        """The app's model specs (imports its training stack)."""
        return [resolve(entry_point)() for entry_point in self.models]

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        known = ", ".join(s.name for s in self.services) or "none"
        from shipml.core.errors import NotFound

        raise NotFound(f"app '{self.name}' has no service '{name}'; its services: {known}")


def say_to(console: Console) -> Say:
    return lambda message: console.print(message)
