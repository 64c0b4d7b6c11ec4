"""Parking work: ingest, the model spec for the platform's one lifecycle, ``shipml eval parking`` on any occupancy
file, status and ``prepare``.

Choice of model: **overall, not per series.** Every configuration is backtested on the same rolling origins (one
day ahead from each of the last ``SHIPML_PARKING_BACKTEST_ORIGINS`` days, regulated hours only) and the lowest mean
MASE over (neighbourhood, origin) wins for every neighbourhood. Per-series choice would pick, for each
neighbourhood, the model that got lucky on a handful of days (with 5 candidates and ~3 origins the winner's score
is biased low and the choice flips between trainings), and it would give up the global LightGBM's main strength:
one model that learns from every neighbourhood at once. Each member's own holdout figures are still logged
(``member_metrics``), so a neighbourhood the chosen model serves badly is visible.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from shipml.apps.parking import MODEL  # the app's declaration names it
from shipml.apps.parking import ingest as ingesting
from shipml.apps.parking.model import GRID, fit_family, make, series_of
from shipml.apps.parking.settings import SYNTHETIC, settings
from shipml.core import datasets, registry
from shipml.core.progress import Progress, no_progress
from shipml.core.training import ModelSpec, TrainingData

log = logging.getLogger(__name__)

METRIC = "mase"
CALIBRATED = ("seasonal_naive", "global_lightgbm")  # cheap to calibrate, and their own intervals under-cover
QUICK_MODELS = ("seasonal_naive", "global_lightgbm")  # what `prepare` compares, to start within a minute


def ingest(source: str | None = None, progress: Progress = no_progress) -> dict[str, Any]:
    return ingesting.refresh(source, progress)


def candidates(models: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    names = models or [m.strip() for m in settings().models.split(",") if m.strip()]
    return {name: {"model": name, "calibrate": name in CALIBRATED} for name in names}


@dataclass(frozen=True)
class Occupancy:
    """What the models see: the dataset frame, and whether it is simulated (shown with every answer)."""

    frame: pl.DataFrame
    synthetic: bool
    version: int


def _load() -> TrainingData[Occupancy]:
    snap = datasets.require_latest(ingesting.DATASET)
    return TrainingData(snap, Occupancy(snap.read(), snap.synthetic, snap.version))


def _fit(params: dict[str, Any], data: Occupancy) -> Any:
    s = settings()
    family = fit_family(params, data.frame, s.horizon_days, s.level)
    family.params.update(synthetic=data.synthetic, data_version=data.version)
    return family


def backtest_configs(configs: Mapping[str, dict[str, Any]], frame: pl.DataFrame, origins: int,
                     progress: Progress = no_progress) -> dict[str, dict[str, Any]]:
    """Every configuration on the same origins, one day ahead, scored on regulated hours only."""
    from shipml.apps.parking.backtest import backtest

    factories = {name: (lambda params=params: make(params)) for name, params in configs.items()}
    progress(0.1, f"backtesting {', '.join(configs)} on {origins} origin(s)")
    rows = backtest(series_of(frame), GRID, horizon=GRID.slots_per_day, origins=origins, models=list(configs),
                    regulated=True, factories=factories)  # type: ignore[arg-type]
    return {row["model"]: {k: v for k, v in row.items() if k != "model"} for row in rows}


def spec(models: Sequence[str] | None = None, origins: int | None = None) -> ModelSpec[Occupancy]:
    """The one registered model of the app: a Family with a member per neighbourhood."""
    s = settings()
    n = origins or s.backtest_origins
    return ModelSpec(
        name=MODEL, metric=METRIC, higher_is_better=False,
        holdout=f"rolling origin: 1 day ahead from each of the last {n} days, regulated hours only; MASE vs the "
                "in-sample weekly seasonal naive, mean over (neighbourhood, origin)",
        load=_load, candidates=lambda: candidates(models),
        make=lambda params: dict(params),
        evaluate=lambda configs, data, progress: backtest_configs(configs, data.frame, n, progress),
        fit=_fit,
        tolerance=0.1,  # MASE moves from one week of tickets to the next; a broken fit is far worse
    )


def evaluate(progress: Progress = no_progress, occupancy: str | None = None, **options: Any) -> list[dict[str, Any]]:
    """``shipml eval parking``: the backtest of every model on an occupancy file (``--occupancy``), else the
    lifecycle's candidates on the latest ticket data."""
    if occupancy is None:
        from shipml.core.training import evaluate as lifecycle_evaluate

        return lifecycle_evaluate(spec(), progress)
    from shipml.apps.parking.backtest import DEFAULT_MODELS, evaluate_occupancy

    names = options.pop("names", None)
    models = options.pop("models", None)
    progress(0.05, f"backtesting on {occupancy}")
    rows = evaluate_occupancy(
        occupancy, options.pop("id_col"), options.pop("time_col"), options.pop("capacity_col", None),
        options.pop("occupied_col", None), options.pop("free_col", None),
        names=[n.strip() for n in names.split(",")] if names else None,
        freq=options.pop("freq", None) or "30min", horizon=options.pop("horizon", None) or "1d",
        origins=int(options.pop("origins", None) or 14),
        models=[m.strip() for m in models.split(",")] if models else DEFAULT_MODELS)
    keys = ("model", "mase", "mae", "fit_seconds", "series", "origins", "coverage", "points")
    return [{k: row[k] for k in keys if k in row} for row in rows]


def prepare(say: Any) -> None:
    """For ``shipml up``: data (simulated tickets when the configured source cannot be read and nothing is stored)
    and a champion (comparing the two fast candidates, so the first start stays within about a minute; the next
    ``shipml train parking`` or scheduled retraining compares all five)."""
    from shipml.core.errors import ShipmlError
    from shipml.core.training import select_and_promote

    if datasets.latest(ingesting.DATASET) is None:
        source = settings().source
        try:
            result = ingest(source)
        except ShipmlError as exc:
            say(f"[yellow]parking: {exc.message}; using SYNTHETIC tickets[/yellow]")
            result = ingest(SYNTHETIC)
        kind = "SYNTHETIC" if result["synthetic"] else "real"
        say(f"parking: {result['status']} {kind} data v{result['version']} ({result['rows']:,} neighbourhood-hours)")
    if registry.champion_version(MODEL) is None:
        outcome = select_and_promote(spec(QUICK_MODELS, origins=1))
        say(f"parking: trained {MODEL} v{outcome.version} ({outcome.candidate}, {METRIC}={outcome.score:.3f})")
