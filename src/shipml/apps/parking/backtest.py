"""Rolling-origin backtest of every forecaster on the same origins, and ``evaluate_occupancy`` for any file.

At each origin (the start of each of the last ``origins`` days) every model is fitted on the history before it and
forecasts the next ``h`` slots. Scored points: observed values only (never filled ones), and with ``regulated``
only the slots when parking is paid. The same post-processing applies to every model: forecasts are clipped to
``[0, capacity]`` and, with ``regulated``, set to 0 when parking is not regulated (as the original zeroed Prophet).

MASE: per series and origin, MAE over the scored points divided by the in-sample MAE of the weekly seasonal naive
on that origin's history (observed pairs only); the reported MASE is the mean over (series, origin). MAE is over
all scored points. ``fit_seconds`` is the mean time to fit and forecast every series at one origin.
``coverage`` is the share of scored points inside the model's 80 % interval.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from shipml.apps.parking.calendar import regulated_expr
from shipml.apps.parking.forecasters import MODELS, Forecaster, make_forecaster
from shipml.apps.parking.occupancy import OccupancyData, horizon_steps, read_occupancy
from shipml.apps.parking.series import Grid
from shipml.core.errors import InvalidInput

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("seasonal_naive", "mstl", "auto_ets", "prophet_original", "global_lightgbm")


def origins_of(series: pl.DataFrame, grid: Grid, days: int) -> list[datetime]:
    """The first slot of each of the last ``days`` days of the data."""
    last = series["ds"].max()
    assert isinstance(last, datetime)
    first_slot = grid.slots[0]
    return [datetime.combine(last.date() - timedelta(days=i), first_slot) for i in range(days - 1, -1, -1)]


def mase_scale(history: pl.DataFrame, season: int) -> pl.DataFrame:
    """Per series: mean |y_t − y_{t−season}| over observed pairs of the history (the MASE denominator)."""
    lagged = history.sort(["unique_id", "ds"]).with_columns(
        prev=pl.col("y").shift(season).over("unique_id"), prev_obs=pl.col("observed").shift(season).over("unique_id"))
    ok = lagged.filter(pl.col("observed") & pl.col("prev_obs").fill_null(False))
    return ok.group_by("unique_id").agg(scale=(pl.col("y") - pl.col("prev")).abs().mean())


def backtest(series: pl.DataFrame, grid: Grid, *, horizon: int, origins: int = 14,
             models: Sequence[str] = DEFAULT_MODELS, regulated: bool = False, level: int = 80,
             factories: dict[str, Callable[[], Forecaster]] | None = None,
             min_history_weeks: int = 2) -> list[dict[str, Any]]:
    """Rolling-origin backtest of ``models`` on the same series and origins; one row per model.

    Series enter at an origin only if they have ``min_history_weeks`` weeks of history before it.
    """
    unknown = [m for m in models if m not in MODELS and m not in (factories or {})]
    if unknown:
        raise InvalidInput(f"unknown model {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    points: dict[str, list[pl.DataFrame]] = {m: [] for m in models}
    seconds: dict[str, list[float]] = {m: [] for m in models}
    used_origins, used_series = 0, set()
    for origin in origins_of(series, grid, origins):
        history = series.filter(pl.col("ds") < origin)
        lengths = history.group_by("unique_id").agg(n=pl.len(), obs=pl.col("observed").sum())
        keep = lengths.filter((pl.col("n") >= min_history_weeks * grid.weekly) & (pl.col("obs") > 0))["unique_id"]
        history = history.filter(pl.col("unique_id").is_in(keep.implode()))
        truth = series.filter(pl.col("ds") >= origin, pl.col("unique_id").is_in(keep.implode()))
        if history.is_empty() or truth.is_empty():
            continue
        used_origins += 1
        used_series |= set(keep.to_list())
        scale = mase_scale(history, grid.weekly)
        for name in models:
            model = (factories or {}).get(name, lambda name=name: make_forecaster(name))()
            started = time.perf_counter()
            forecast = model.fit(history, grid).predict(horizon, level)
            seconds[name].append(time.perf_counter() - started)
            points[name].append(_score_frame(forecast, truth, scale, origin, regulated))
    rows = []
    for name in models:
        if not points[name]:
            raise InvalidInput("no origin has enough history to backtest on")
        rows.append(_summarise(name, pl.concat(points[name]), seconds[name], len(used_series), used_origins))
    return rows


def _score_frame(forecast: pl.DataFrame, truth: pl.DataFrame, scale: pl.DataFrame, origin: datetime,
                 regulated: bool) -> pl.DataFrame:
    joined = forecast.join(truth.select("unique_id", "ds", "y", "observed", "capacity"), on=["unique_id", "ds"],
                           how="inner").join(scale, on="unique_id", how="left")
    clip = {c: pl.col(c).clip(0.0, pl.col("capacity")) for c in ("yhat", "lo", "hi")}
    joined = joined.with_columns(**clip)
    if regulated:
        open_ = regulated_expr("ds")
        joined = joined.with_columns(**{c: pl.when(open_).then(pl.col(c)).otherwise(0.0)
                                        for c in ("yhat", "lo", "hi")}, open=open_)
        joined = joined.filter(pl.col("open"))
    return joined.filter(pl.col("observed")).select(
        "unique_id", "scale", origin=pl.lit(origin), err=(pl.col("yhat") - pl.col("y")).abs(),
        inside=(pl.col("y") >= pl.col("lo")) & (pl.col("y") <= pl.col("hi")))


def _summarise(name: str, scored: pl.DataFrame, seconds: list[float], n_series: int,
               n_origins: int) -> dict[str, Any]:
    per = scored.filter(pl.col("scale") > 0).group_by(["unique_id", "origin"]).agg(
        mase=pl.col("err").mean() / pl.col("scale").first())
    return {
        "model": name,
        "mase": float(per["mase"].mean()) if per.height else float("nan"),  # type: ignore[arg-type]
        "mae": float(scored["err"].mean()) if scored.height else float("nan"),  # type: ignore[arg-type]
        "fit_seconds": float(np.mean(seconds)),
        "series": n_series,
        "origins": n_origins,
        "coverage": float(scored["inside"].mean()) if scored.height else float("nan"),  # type: ignore[arg-type]
        "points": scored.height,
    }


def evaluate_occupancy(path: Path | str, id_col: str, time_col: str, capacity_col: str | None = None,
                       occupied_col: str | None = None, free_col: str | None = None,
                       names: Sequence[str] | None = None, freq: str = "30min", horizon: str | int = "1d", *,
                       origins: int = 14, models: Sequence[str] = DEFAULT_MODELS,
                       regulated: bool = False, separator: str = ",") -> list[dict[str, Any]]:
    """Backtest every model on any occupancy file; one row per model (``model``, ``mase``, ``mae``,
    ``fit_seconds``, ``series``, ``origins``, plus ``coverage`` and ``points``)."""
    data: OccupancyData = read_occupancy(Path(path), id_col=id_col, time_col=time_col, capacity_col=capacity_col,
                                         occupied_col=occupied_col, free_col=free_col,
                                         names=list(names) if names else None, freq=freq,
                                         separator=separator)
    steps = horizon_steps(horizon, data.grid, freq)
    return backtest(data.series, data.grid, horizon=steps, origins=origins, models=models, regulated=regulated)
