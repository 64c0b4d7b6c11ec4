"""The one model lifecycle: candidates → one holdout → log every run → register the best → promote.

An app describes each of its models with a :class:`ModelSpec`: how to load the latest data, which
configurations to try (name → params), how to make a model from params, how to score a set of configurations on
one holdout, and how to fit the chosen one on all the data. :func:`select_and_promote` then, for every app alike:

1. loads the latest data (one dataset snapshot, whose version is logged with every run);
2. adds the champion's configuration to the candidates (unless one of them already has the same params);
3. scores every configuration on the same holdout of that data and logs each as an MLflow run;
4. fits the best on all the data and registers it as a new version (params, metrics, data version, holdout);
5. promotes it to ``champion`` unless its score is worse than the current champion's by more than the spec's
   ``tolerance`` (relative: 0.05 = 5 % of the champion's score). A tie goes to the newer data, so a model never
   goes stale; a model fit on data that makes it clearly worse (corrupted data) stays a registered version.

The champion's score is the one it was registered with, on the holdout of its own data version (both are named
in the reason kept on the new version). Refitting the champion's configuration on the new data is one of the
candidates, so the promoted model is always the best configuration on the newest data.

A spec is typed ``ModelSpec[D, M]``: ``load`` gives the data as a ``D``; ``make(params)`` gives an unfitted ``M``
and ``fit(m, data)`` the fitted ``M`` that is registered and served, so the class a route serves is the class the
spec makes. ``M`` is a :class:`Model`: picklable, with the ``params`` that remake its configuration (the registry
checks it when it logs one). Models that hold one member per series (one forecaster per area, say) are
:class:`Family` objects: one registered version, per-member metrics, one champion handle; a family with params
and no members is the unfitted one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from shipml.core import registry
from shipml.core.datasets import Snapshot
from shipml.core.errors import InvalidInput
from shipml.core.progress import Progress, no_progress
from shipml.core.registry import Model as Model  # the protocol lives with the registry, which checks it

log = logging.getLogger(__name__)

D = TypeVar("D")  # the data a model learns from
M = TypeVar("M", bound=Model)  # the model: made unfitted, fitted, registered and served
CHAMPION_CONFIG = "champion"


@dataclass(frozen=True)
class TrainingData(Generic[D]):
    """The latest data of an app as a model sees it: the snapshot it came from and what the model consumes."""

    snapshot: Snapshot
    data: D


@dataclass(frozen=True)
class ModelSpec(Generic[D, M]):
    """How one registered model of an app is trained, evaluated and chosen.

    Attributes:
        name: the registered model name (e.g. ``cases_forecast``).
        metric: the figure that chooses (e.g. ``ndcg_at_10``); ``higher_is_better`` says which way.
        holdout: what the metric is measured on, in words (kept as a tag on every run and version).
        load: the latest data.
        candidates: the configurations compared at every training (name → params).
        make: a fresh, unfitted model from params.
        evaluate: scores several configurations on the same holdout of ``data``: name → figures (numbers and
            text; must include ``metric``).
        fit: fits a made model on all of ``data``: the model that is registered and served.
        tolerance: relative; the best candidate replaces the champion unless worse by more than this.
        with_champion: the current champion's configuration is compared too (refit on the latest data); off for a
            first start's quick comparison, whose point is its cheap candidates (the full one follows it).
    """

    name: str
    metric: str
    higher_is_better: bool
    holdout: str
    load: Callable[[], TrainingData[D]]
    candidates: Callable[[], Mapping[str, dict[str, Any]]]
    make: Callable[[dict[str, Any]], M]
    evaluate: Callable[[Mapping[str, dict[str, Any]], D, Progress], Mapping[str, dict[str, Any]]]
    fit: Callable[[M, D], M]
    tolerance: float = 0.05
    with_champion: bool = True

    def better(self, a: float, b: float) -> bool:
        return a > b if self.higher_is_better else a < b


@dataclass
class Family:
    """One registered model made of many members (one per series), e.g. a forecaster per neighbourhood.

    ``members`` maps a series key to its fitted model; ``member_metrics`` holds each member's own figures (logged
    to MLflow as ``<metric>/<key>``); the family's aggregate score is what promotion compares. Served through one
    :class:`shipml.core.registry.Champion` handle."""

    params: dict[str, Any]
    members: dict[str, Any] = field(default_factory=dict)
    member_metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    def member(self, key: str) -> Any:
        from shipml.core.errors import NotFound

        try:
            return self.members[key]
        except KeyError:
            raise NotFound(f"no model for '{key}'") from None

    def __len__(self) -> int:
        return len(self.members)


def _same_params(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return {k: str(v) for k, v in a.items()} == {k: str(v) for k, v in b.items()}


def configurations(spec: ModelSpec[Any, Any]) -> dict[str, dict[str, Any]]:
    """The spec's candidates plus the current champion's configuration (when none of them has its params and the
    spec compares it)."""
    configs = {name: dict(params) for name, params in spec.candidates().items()}
    version = registry.champion_version(spec.name) if spec.with_champion else None
    if version is not None:
        params = registry.version_params(spec.name, version)
        if params and not any(_same_params(params, p) for p in configs.values()):
            configs[f"{CHAMPION_CONFIG} v{version}"] = params
    return configs


def evaluate(spec: ModelSpec[D, Any], progress: Progress = no_progress,
             training: TrainingData[D] | None = None) -> list[dict[str, Any]]:
    """Every configuration's figures on the holdout of the latest data (nothing logged): ``shipml eval``."""
    training = training or spec.load()
    configs = configurations(spec)
    figures = spec.evaluate(configs, training.data, progress)
    return [{"model": name, **registry.numeric_metrics(figures[name])} for name in configs if name in figures]


@dataclass(frozen=True)
class Outcome:
    """What one training did: the new version, whether it was promoted and why, and every configuration's score."""

    model: str
    version: int
    promoted: bool
    reason: str
    candidate: str
    score: float
    table: dict[str, dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "promoted": self.promoted, "reason": self.reason,
                "candidate": self.candidate, "score": self.score, "table": self.table}


def decide(spec: ModelSpec[Any, Any], score: float, champion: registry.Recorded | None,
           data_version: int, synthetic: bool = False) -> tuple[bool, str]:
    """The promotion rule (pure): promote unless worse than the champion's score by more than the tolerance. A
    champion trained on synthetic data never blocks a model of real data: their scores measure different things."""
    metric = spec.metric
    if champion is None:
        return True, f"no champion yet; {metric}={score:.4g} on data v{data_version}"
    if champion.synthetic and not synthetic:
        return True, (f"{metric}={score:.4g} on real data v{data_version}; champion v{champion.version} was trained "
                      "on SYNTHETIC data, so real data wins")
    margin = abs(champion.score) * spec.tolerance
    worse_by = (champion.score - score) if spec.higher_is_better else (score - champion.score)
    where = (f"{metric}={score:.4g} on data v{data_version} vs champion v{champion.version} "
             f"{metric}={champion.score:.4g} on data v{champion.data_version}")
    if worse_by > margin:
        return False, f"{where}: worse by more than the {spec.tolerance:.0%} tolerance; champion kept"
    if worse_by > 0:
        return True, f"{where}: within the {spec.tolerance:.0%} tolerance, so the newer data wins"
    if worse_by == 0:
        return True, f"{where}: a tie goes to the newer data"
    return True, f"{where}: better"


def select_and_promote(spec: ModelSpec[D, M], progress: Progress = no_progress,
                       training: TrainingData[D] | None = None) -> Outcome:
    """Fit every configuration on the latest data, score all on one holdout, log every run, register the best,
    promote it by :func:`decide`. ``training`` overrides the spec's loader (tests, replays)."""
    progress(0.02, "loading the latest data")
    training = training or spec.load()
    snap = training.snapshot
    configs = configurations(spec)
    progress(0.05, f"evaluating {len(configs)} configurations on one holdout")

    def evaluating(fraction: float, message: str) -> None:
        progress(0.05 + 0.7 * fraction, message)

    figures = spec.evaluate(configs, training.data, evaluating)
    missing = [name for name in configs if spec.metric not in figures.get(name, {})]
    if missing:
        raise InvalidInput(f"{spec.name}: no {spec.metric} for {', '.join(missing)}")
    table = {name: registry.numeric_metrics(figures[name]) for name in configs}
    for name, params in configs.items():
        registry.log_run(spec.name, params={"candidate": name, **params}, metrics=table[name], dataset=snap,
                         holdout=spec.holdout)
    best = max(configs, key=lambda n: table[n][spec.metric] * (1 if spec.higher_is_better else -1))
    score = table[best][spec.metric]
    progress(0.8, f"fitting {best} on all the data")
    model = spec.fit(spec.make(dict(configs[best])), training.data)
    version = registry.log_model(spec.name, model, params={"candidate": best, **configs[best]},
                                 metrics=table[best], dataset=snap, holdout=spec.holdout,
                                 member_metrics=getattr(model, "member_metrics", None))
    progress(0.95, "comparing with the champion")
    champion = registry.recorded_champion(spec.name, spec.metric)
    promoted, reason = decide(spec, score, champion, snap.version, snap.synthetic)
    registry.record_decision(spec.name, version, promoted=promoted, reason=reason)
    progress(1.0, reason)
    return Outcome(spec.name, version, promoted, reason, best, score, table)
