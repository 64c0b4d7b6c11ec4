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
from shipml.apps.parking.settings import settings
from shipml.core import datasets
from shipml.core.progress import Progress, no_progress
from shipml.core.training import Family, ModelSpec, TrainingData

log = logging.getLogger(__name__)

METRIC = "mase"
CALIBRATED = ("seasonal_naive", "global_lightgbm")  # cheap to calibrate, and their own intervals under-cover
BACKTEST_MIN_HISTORY_DAYS = 14  # history a neighbourhood needs before a backtest origin (weekly lags, MASE scale)
QUICK_MODELS = ("seasonal_naive", "global_lightgbm")  # the first start compares these, within a minute


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


def _make(params: dict[str, Any]) -> Family:
    """An unfitted family: the configuration, no members yet (:func:`_fit` gives one per neighbourhood)."""
    return Family(dict(params))


def _fit(unfitted: Family, data: Occupancy) -> Family:
    s = settings()
    family: Family = fit_family(unfitted.params, data.frame, s.horizon_days, s.level)
    family.params.update(synthetic=data.synthetic, data_version=data.version)
    return family


def backtest_engine(engine: str | None = None) -> str:
    """The backtest's engine: ``engine`` if given, else ``spark`` when ``SHIPML_PARKING_ENGINE=spark``."""
    return engine or ("spark" if settings().engine == "spark" else "embedded")


def backtest_configs(configs: Mapping[str, dict[str, Any]], frame: pl.DataFrame, origins: int,
                     progress: Progress = no_progress, engine: str | None = None) -> dict[str, dict[str, Any]]:
    """Every configuration on the same origins (whole days only: a partial last day is never a holdout), one day
    ahead, scored on regulated hours only; each row says how many points and origins it scored."""
    from shipml.apps.parking.backtest import backtest

    factories = {name: (lambda params=params: make(params)) for name, params in configs.items()}
    how = backtest_engine(engine)
    progress(0.1, f"backtesting {', '.join(configs)} on {origins} origin(s) ({how})")
    rows = backtest(series_of(frame), GRID, horizon=GRID.slots_per_day, origins=origins, models=list(configs),
                    regulated=True, factories=factories,  # type: ignore[arg-type]
                    min_history_days=BACKTEST_MIN_HISTORY_DAYS, what="the ticket data", engine=how)
    return {row["model"]: {k: v for k, v in row.items() if k != "model"} for row in rows}


def model_spec(models: Sequence[str] | None = None, origins: int | None = None,
               engine: str | None = None) -> ModelSpec[Occupancy, Family]:
    """The one registered model of the app: a Family with a member per neighbourhood (``engine``: the backtest's,
    default :func:`backtest_engine`)."""
    s = settings()
    n = origins or s.backtest_origins
    return ModelSpec(
        name=MODEL, metric=METRIC, higher_is_better=False,
        holdout=f"rolling origin: 1 day ahead from each of the last {n} days, regulated hours only; MASE vs the "
                "in-sample weekly seasonal naive, mean over (neighbourhood, origin)",
        load=_load, candidates=lambda: candidates(models),
        make=_make,
        evaluate=lambda configs, data, progress: backtest_configs(configs, data.frame, n, progress, engine),
        fit=_fit,
        tolerance=0.1,  # MASE moves from one week of tickets to the next; a broken fit is far worse
    )


def evaluate(progress: Progress = no_progress, occupancy: str | None = None, **options: Any) -> list[dict[str, Any]]:
    """``shipml eval parking``: the backtest of every model on an occupancy file (``--occupancy``), else the
    lifecycle's candidates on the latest ticket data; on ``--engine`` (default :func:`backtest_engine`)."""
    engine = options.pop("engine", None)
    if occupancy is None:
        from shipml.core.training import evaluate as lifecycle_evaluate

        return lifecycle_evaluate(model_spec(engine=engine), progress)
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
        models=[m.strip() for m in models.split(",")] if models else DEFAULT_MODELS,
        min_history=options.pop("min_history", None), engine=backtest_engine(engine))
    keys = ("model", "mase", "mae", "coverage", "points", "origins", "series", "min_history_days", "fit_seconds")
    return [{k: row[k] for k in keys if k in row} for row in rows]


def quick_spec() -> ModelSpec[Occupancy, Family]:
    """The first start's candidates: the two fast models on one origin (the next training compares all five)."""
    return model_spec(QUICK_MODELS, origins=1)
