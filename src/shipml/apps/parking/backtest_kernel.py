"""The backtest's kernel (:func:`score_task`: one model fitted at one origin on every series, or on one series, and
scored) and its summary (:func:`summarise`), shared by both engines: :func:`shipml.apps.parking.backtest.backtest`
runs them here, :func:`shipml.apps.parking.spark.backtest_on_spark` on executors. What is scored and how is said in
:mod:`shipml.apps.parking.backtest`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from shipml.apps.parking.backtest_plan import Plan
from shipml.apps.parking.calendar import regulated_expr
from shipml.apps.parking.forecasters import Forecaster, make_forecaster


def forecaster(name: str, factories: Mapping[str, Callable[[], Forecaster]] | None = None) -> Forecaster:
    """A fresh, unfitted model: the caller's factory for ``name``, else the forecaster of that name."""
    factory = (factories or {}).get(name)
    return factory() if factory is not None else make_forecaster(name)


def score_task(p: Plan, window: int, model: Forecaster, unique_id: str | None = None) -> tuple[pl.DataFrame, float]:
    """The kernel: ``model`` fitted on the history before one origin (every series scored there, or one of them)
    and its forecast scored; the scored points and the seconds the fit and forecast took."""
    w = p.windows[window]
    ids = list(w.keep) if unique_id is None else [unique_id]
    history = p.series.filter(pl.col("ds") < w.origin, pl.col("unique_id").is_in(ids))
    truth = w.truth if unique_id is None else w.truth.filter(pl.col("unique_id") == unique_id)
    started = time.perf_counter()
    forecast = model.fit(history, p.grid).predict(p.horizon, p.level)
    seconds = time.perf_counter() - started
    return _score_frame(forecast, truth, w.scale, w.origin, p.regulated), seconds


def summarise(p: Plan, name: str, scored: pl.DataFrame, seconds: Sequence[float]) -> dict[str, Any]:
    """One model's row from its scored points (``unique_id``, ``origin``, ``scale``, ``err``, ``inside``) over
    every origin and its seconds per origin (every series fitted and forecast)."""
    return _summarise(name, scored, list(seconds), p.n_series, len(p.windows), p.min_days)


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
        "unique_id", "ds", "scale", "capacity", "yhat", "y", origin=pl.lit(origin),
        err=(pl.col("yhat") - pl.col("y")).abs(),
        inside=(pl.col("y") >= pl.col("lo")) & (pl.col("y") <= pl.col("hi")))


def _summarise(name: str, scored: pl.DataFrame, seconds: list[float], n_series: int, n_origins: int,
               min_days: int) -> dict[str, Any]:
    scored = scored.sort(["origin", "unique_id", "ds"])  # the same sums in the same order, whatever the engine
    per = scored.filter(pl.col("scale") > 0).group_by(["unique_id", "origin"]).agg(
        mase=pl.col("err").mean() / pl.col("scale").first()).sort(["unique_id", "origin"])
    return {
        "model": name,
        "mase": float(per["mase"].mean()) if per.height else float("nan"),  # type: ignore[arg-type]
        "mae": float(scored["err"].mean()) if scored.height else float("nan"),  # type: ignore[arg-type]
        "fit_seconds": float(np.mean(seconds)),
        "series": n_series,
        "origins": n_origins,
        "coverage": float(scored["inside"].mean()) if scored.height else float("nan"),  # type: ignore[arg-type]
        "points": scored.height,
        "min_history_days": min_days,
    }
