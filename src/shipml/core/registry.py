"""Model registry on MLflow: log a trained model with its params, metrics and the dataset version it was
trained on; record the promotion decision (:mod:`shipml.core.training` makes it) and move the alias
``champion``; serve the champion and swap in a new one when the alias moves, with no restart.

Every model it stores is a :class:`Model` (checked when it is logged). A route serves the champion with
``champion(name).require(Kind, app=...)``: the version and the model typed as ``Kind``, or a 404 that says how to
train one.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, NamedTuple, Protocol, TypeVar, runtime_checkable

from shipml.core import files, heap
from shipml.core.datasets import Snapshot
from shipml.core.errors import NotFound
from shipml.settings import get_settings

log = logging.getLogger(__name__)

CHAMPION = "champion"

# MLflow is chatty on stderr (info lines, advice on pickling and type hints): keep warnings and errors.
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")


@runtime_checkable
class Model(Protocol):
    """What every model has, made or fitted: the params that remake its configuration (``ModelSpec.make``).

    Fitting and predicting are the app's (``fit`` through ``ModelSpec.fit``, predict/recommend/similar through the
    app's API); saving and loading are the registry's (the whole object is pickled into MLflow). An attribute or
    a read-only property both do."""

    @property
    def params(self) -> dict[str, Any]: ...


M = TypeVar("M", bound=Model)


@cache  # one client per URI; its first use is serialised below
def _configured(tracking_uri: str, artifacts: str) -> Any:
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    # MLflow creates (migrates) its database on first use, the client's constructor included; two first users at once
    # (the worker's threads running the first runs, the API) race on its schema: it happens here, one process and one
    # thread at a time
    with _INIT, files.locked(get_settings().resolved_home / ".mlflow-init.lock"):
        c = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        c.search_experiments(max_results=1)
        c.search_registered_models(max_results=1)
    return c


_INIT = threading.Lock()


def client() -> Any:
    s = get_settings()
    return _configured(s.tracking_uri, s.artifacts_dir.as_uri())


def _experiment_id(name: str) -> str:
    c = client()
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    artifacts = get_settings().artifacts_dir
    artifacts.mkdir(parents=True, exist_ok=True)
    return str(c.create_experiment(name, artifact_location=(artifacts / name).as_uri()))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """MLflow prints advice (type hints, pickling) and "Successfully registered" lines: keep them out of the way."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


@dataclass(frozen=True)
class Recorded:
    """The current champion as registered: its version, its score on the holdout of its own data version."""

    version: int
    score: float
    data_version: str
    synthetic: bool = False  # trained on synthetic data: its score says nothing about real data


def numeric_metrics(figures: dict[str, Any]) -> dict[str, float]:
    """The numbers among an evaluation's figures (what MLflow can log as metrics); bools and text left out."""
    return {k: float(v) for k, v in figures.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def log_model(
    name: str,
    model: Model,
    *,
    params: dict[str, Any],
    metrics: dict[str, float],
    dataset: Snapshot,
    holdout: str,
    member_metrics: dict[str, dict[str, float]] | None = None,
) -> int:
    """Log ``model`` (any picklable object with the app's predict API) as a new version of ``name``.

    ``holdout`` names the evaluation split (e.g. "last 28 days of data v12") and is kept as a tag, so a
    reader can see what a metric was measured on. ``member_metrics`` (a family of per-series models) are logged
    as ``<metric>/<member>``. The params are also kept as JSON on the version, so the configuration can be made
    again with its types. Returns the new registered version number. A model that is not a :class:`Model`
    (no ``params``) is refused with a ``TypeError``: the champion's configuration could not be made again.
    """
    if not isinstance(model, Model):
        raise TypeError(f"{name}: a {type(model).__name__} is not a registry Model (it has no 'params')")
    import mlflow
    import mlflow.pyfunc

    client()

    with _quiet():  # MLflow advises type hints on predict when the class is made

        class _Wrapped(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
            def __init__(self, inner: Any) -> None:
                self.inner = inner

            def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
                return self.inner.predict(model_input)

    with mlflow.start_run(experiment_id=_experiment_id(name)) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        if member_metrics:
            mlflow.log_metrics({f"{metric}/{_metric_key(member)}": value
                                for member, figures in member_metrics.items() for metric, value in figures.items()})
        mlflow.set_tags({
            "dataset": dataset.name,
            "dataset_version": str(dataset.version),
            "dataset_hash": dataset.content_hash,
            "holdout": holdout,
        })
        with _quiet():
            info = mlflow.pyfunc.log_model(
                name="model", python_model=_Wrapped(model), pip_requirements=[], registered_model_name=name
            )
    version = int(info.registered_model_version)
    c = client()
    for key, value in {"run_id": run.info.run_id, "dataset_version": str(dataset.version), "holdout": holdout,
                       "dataset_synthetic": str(dataset.synthetic).lower(),
                       "params_json": json.dumps(params, default=str)}.items():
        c.set_model_version_tag(name, str(version), key, value)
    return version


def log_run(name: str, *, params: dict[str, Any], metrics: dict[str, float], dataset: Snapshot,
            holdout: str) -> str:
    """Log an evaluation run (params, metrics, data version) without registering a model; returns its id."""
    import mlflow

    client()
    with mlflow.start_run(experiment_id=_experiment_id(name)) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.set_tags({"dataset": dataset.name, "dataset_version": str(dataset.version),
                         "dataset_hash": dataset.content_hash, "holdout": holdout})
        return str(run.info.run_id)


def champion_version(name: str) -> int | None:
    from mlflow.exceptions import MlflowException

    try:
        return int(client().get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def _metric_key(member: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-/ ]", "_", member)


def version_params(name: str, version: int) -> dict[str, Any]:
    """The params a version was made with (types kept), without the ``candidate`` label."""
    tags = client().get_model_version(name, str(version)).tags
    params: dict[str, Any] = json.loads(tags.get("params_json", "{}"))
    params.pop("candidate", None)
    return params


def recorded_champion(name: str, metric: str) -> Recorded | None:
    """The champion's registered score (``None`` with no champion, or one that has no such metric)."""
    version = champion_version(name)
    if version is None:
        return None
    c = client()
    mv = c.get_model_version(name, str(version))
    score = c.get_run(mv.run_id).data.metrics.get(metric) if mv.run_id else None
    if score is None:
        return None
    return Recorded(version, float(score), mv.tags.get("dataset_version", "?"),
                    mv.tags.get("dataset_synthetic") == "true")


def record_decision(name: str, version: int, *, promoted: bool, reason: str) -> None:
    """Keep the decision and its reason on the version; move ``champion`` to it when promoted."""
    c = client()
    if promoted:
        c.set_registered_model_alias(name, CHAMPION, str(version))
        _moved_here(name)
    c.set_model_version_tag(name, str(version), "promotion", "promoted" if promoted else "kept champion")
    c.set_model_version_tag(name, str(version), "promotion_reason", reason)
    log.info("%s v%s: %s", name, version, reason)


def set_champion(name: str, version: int) -> None:
    """Move the alias by hand (admin): the API picks it up within ``champion_poll_seconds``."""
    from mlflow.exceptions import MlflowException

    c = client()
    try:
        c.get_model_version(name, str(version))
    except MlflowException as exc:
        raise NotFound(f"model '{name}' has no version {version}") from exc
    c.set_registered_model_alias(name, CHAMPION, str(version))
    c.set_model_version_tag(name, str(version), "promotion", "set by hand")
    _moved_here(name)


def load_version(name: str, version: int) -> Any:
    import mlflow.pyfunc

    client()
    with _quiet():  # unpickling remakes the wrapper class, and MLflow repeats its advice
        return mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model().inner


def list_models() -> list[dict[str, Any]]:
    c = client()
    out: list[dict[str, Any]] = []
    for rm in c.search_registered_models():
        champ = champion_version(rm.name)
        for mv in c.search_model_versions(f"name='{rm.name}'"):
            run = c.get_run(mv.run_id) if mv.run_id else None
            out.append({
                "model": rm.name,
                "version": int(mv.version),
                "champion": champ == int(mv.version),
                "metrics": {k: v for k, v in run.data.metrics.items() if "/" not in k} if run else {},
                "params": dict(run.data.params) if run else {},
                "tags": dict(mv.tags),
                "created_at": mv.creation_timestamp,
            })
    return sorted(out, key=lambda m: (m["model"], -m["version"]))


class Served(NamedTuple, Generic[M]):
    """The champion a request is answered with: its registered version and the loaded model
    (``version, model = champion(name).require(Kind, app=...)``)."""

    version: int
    model: M


NONE_POLL_SECONDS = 0.5  # how often a model with no champion yet is looked up again


class Champion:
    """The loaded champion of one model. The alias is checked at most every ``poll_seconds``, off the request
    path (in a background thread, once a model is loaded), and a moved alias swaps the new version in, so a
    promotion is served within about that time with no restart."""

    def __init__(self, name: str, poll_seconds: float) -> None:
        self.name = name
        self.poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._checked = -1e9
        self._checking = False
        self._current: tuple[int | None, Any] = (None, None)  # swapped as one, never half-updated

    def _refresh(self) -> None:
        try:
            latest = champion_version(self.name)
            serving = self._current[0]
            if latest is not None and latest != serving:
                self._current = (latest, load_version(self.name, latest))
                heap.settle()  # a model is long-lived: out of the collector's walks
                log.info("serving %s v%s (was v%s)", self.name, latest, serving)
        except Exception:  # keep serving what we have; try again at the next poll
            log.warning("could not refresh champion of %s", self.name, exc_info=True)
        finally:
            self._checking = False

    def get(self) -> tuple[int | None, Any]:
        with self._lock:  # with nothing to serve yet (a first run under way), look again sooner
            every = self.poll_seconds if self._current[1] is not None else min(self.poll_seconds, NONE_POLL_SECONDS)
            due = time.monotonic() - self._checked >= every and not self._checking
            if due:
                self._checked = time.monotonic()
                self._checking = True
        if due:
            if self._current[1] is None:
                with self._lock:  # nothing to serve yet: the first load blocks
                    self._refresh()
            else:
                threading.Thread(target=self._refresh, daemon=True).start()
        return self._current

    def get_loaded(self) -> tuple[int, Any] | None:
        """As :meth:`get` (it polls the alias as often, off the request path), but None instead of blocking while
        no model is loaded yet: for a caller on the event loop."""
        if self._current[1] is None:
            return None
        version, model = self.get()  # a loaded model is only ever swapped for another, never unloaded
        return (version, model) if version is not None else None

    def moved(self) -> None:
        """The alias was moved by this process: a model it already serves is swapped now, not at the next poll (a
        worker that trained and promoted a model answers its next job with it)."""
        if self._current[1] is None:
            return  # nothing loaded: the next get loads the latest
        with self._lock:
            self._checked, self._checking = time.monotonic(), True
            self._refresh()

    def require(self, kind: type[M], *, app: str, missing: str | None = None) -> Served[M]:
        """The served champion as a ``kind``, or :class:`NotFound` (404): ``"<missing>; run `shipml train <app>`"``.

        ``missing`` says what is missing in the app's words (default: ``no model '<name>' trained yet``). A
        champion of another class is a server error (``TypeError``), not the caller's."""
        version, model = self.get()
        if model is None or version is None:
            raise NotFound(f"{missing or f'no model {self.name!r} trained yet'}; run `shipml train {app}`")
        if not isinstance(model, kind):
            raise TypeError(f"champion v{version} of {self.name} is a {type(model).__name__}, not a {kind.__name__}")
        return Served(version, model)


@cache
def _champion(name: str, tracking_uri: str, poll_seconds: float) -> Champion:
    return Champion(name, poll_seconds)


def champion(name: str) -> Champion:
    s = get_settings()
    return _champion(name, s.tracking_uri, s.champion_poll_seconds)


def _moved_here(name: str) -> None:
    if _champion.cache_info().currsize:  # only a process that serves models holds any
        champion(name).moved()
