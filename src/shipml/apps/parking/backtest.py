"""Rolling-origin backtest of every forecaster on the same origins, and ``evaluate_occupancy`` for any file.

What it measures, and what it refuses to measure (every row says how much it scored: ``points``, ``origins``,
``series``):

- **Whole days only.** The data are first cut at the end of their last complete day (:func:`whole_days`): a day
  whose last scored slot is missing (a file that stops at noon; ticket data whose last day only holds carry-over
  tickets of the night before) is never history and never a holdout.
- **Origins** are the starts of the last ``origins`` complete days whose whole horizon lies in the data. At each
  origin every model is fitted on the history before it and forecasts the next ``horizon`` slots. A series enters
  at an origin only with ``min_history_days`` days of history before it (default 14; 7 suffice for the weekly
  seasonal naive, and nothing shorter is accepted: the MASE scale needs a week).
- **Refusal.** Fewer scored windows than series (less than one full horizon per series on average) is not a
  figure: :class:`NotEnoughData` (an ``InvalidInput``, exit code 2 from the CLI) says how many days the data cover,
  how many points could be scored and which ``--min-history`` would do.
- **Scored points**: observed values only (never filled ones), and with ``regulated`` only the hours when parking
  is paid. The same post-processing applies to every model: forecasts are clipped to ``[0, capacity]`` and, with
  ``regulated``, set to 0 when parking is not regulated (as the original zeroed Prophet).
- **MASE**: per series and origin, the MAE over the scored points divided by the in-sample MAE of the weekly
  seasonal naive on that origin's history, **on the same kind of slots** (observed pairs, and only regulated
  hours with ``regulated``), so the seasonal naive scores about 1.0 against itself in-sample; the reported MASE is
  the mean over (series, origin). A history too short for one week-apart pair takes the series' scale over all its
  whole days. MAE is over all scored points. ``fit_seconds`` is the mean time to fit and forecast every series at
  one origin; ``coverage`` is the share of scored points inside the model's 80 % interval.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from shipml.apps.parking.calendar import regulated_expr, regulated_window
from shipml.apps.parking.forecasters import MODELS, Forecaster, make_forecaster
from shipml.apps.parking.occupancy import OccupancyData, horizon_steps, read_occupancy
from shipml.apps.parking.series import Grid
from shipml.core.errors import InvalidInput

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("seasonal_naive", "mstl", "auto_ets", "prophet_original", "global_lightgbm")
DEFAULT_MIN_HISTORY_DAYS = 14
NAIVE_MIN_HISTORY_DAYS = 7  # the weekly naive needs one week; nothing shorter gives a MASE scale
NAIVE = "seasonal_naive"


class NotEnoughData(InvalidInput):
    """The data cannot give one full horizon per series: a refusal, never a figure."""


def parse_days(text: str | int | None, default: int) -> int:
    """``'14d'``, ``'2w'``, ``'10'`` (days) → days; ``None`` → ``default``."""
    if text is None or str(text).strip() == "":
        return default
    match = re.fullmatch(r"\s*(\d+)\s*(d|w|days?|weeks?)?\s*", str(text).lower())
    if not match:
        raise InvalidInput(f"--min-history must be days or weeks such as 14d or 2w, not {text!r}")
    days = int(match.group(1)) * (7 if (match.group(2) or "d").startswith("w") else 1)
    if days < NAIVE_MIN_HISTORY_DAYS:
        raise InvalidInput(f"--min-history must be at least {NAIVE_MIN_HISTORY_DAYS}d: the weekly seasonal naive "
                           "and the MASE scale need a week of history")
    return days


def default_min_history(models: Sequence[str]) -> int:
    """Two weeks; one when the weekly seasonal naive is the only model."""
    return NAIVE_MIN_HISTORY_DAYS if list(models) == [NAIVE] else DEFAULT_MIN_HISTORY_DAYS


def _day_complete(day_last: datetime, last: datetime, grid: Grid, regulated: bool) -> bool:
    """Whether the data, ending at ``last``, hold every scored slot of ``day_last``'s day."""
    if regulated:
        window = regulated_window(day_last.date())
        return window is None or last >= window[1] - timedelta(hours=1)
    return last.time() >= grid.slots[-1]


def whole_days(series: pl.DataFrame, grid: Grid, *, regulated: bool = False) -> pl.DataFrame:
    """The series cut at the end of their last complete day (see the module), padded to that day's last slot.

    With ``regulated`` a day is complete once its last regulated hour is in (a day without regulation is complete
    when reached); the slots after it are structurally 0 and padded as 0, unobserved (never scored). Otherwise a
    day is complete when its last grid slot is in.
    """
    if series.is_empty():
        return series
    last = series["ds"].max()
    assert isinstance(last, datetime)
    if not _day_complete(last, last, grid, regulated):
        last = datetime.combine(last.date() - timedelta(days=1), grid.slots[-1])
    end = datetime.combine(last.date(), grid.slots[-1])
    cut = series.filter(pl.col("ds") <= end)
    if not regulated or cut.is_empty():
        return cut
    tails = []
    for uid, series_last, capacity in cut.group_by("unique_id").agg(
            pl.col("ds").max(), pl.col("capacity").last()).iter_rows():
        pad = [t for t in grid.after(series_last, grid.slots_per_day) if t <= end] if series_last < end else []
        if pad:
            tails.append(pl.DataFrame({"unique_id": uid, "ds": pad, "y": 0.0, "observed": False,
                                       "capacity": capacity}).cast(dict(cut.schema)))  # type: ignore[arg-type]
    return pl.concat([cut, *tails]).sort(["unique_id", "ds"]) if tails else cut


def window_end(grid: Grid, origin: datetime, horizon: int) -> datetime:
    """The last of the ``horizon`` slots starting at ``origin`` (on the grid)."""
    return origin if horizon == 1 else grid.after(origin, horizon - 1)[-1]


def origins_of(series: pl.DataFrame, grid: Grid, days: int, horizon: int | None = None) -> list[datetime]:
    """The first slot of each of the last ``days`` days of the data whose ``horizon`` slots (default: one day)
    all lie in the data."""
    last = series["ds"].max()
    assert isinstance(last, datetime)
    h = horizon or grid.slots_per_day
    newest = datetime.combine(last.date(), grid.slots[0])
    while window_end(grid, newest, h) > last:
        newest -= timedelta(days=1)
    return [newest - timedelta(days=i) for i in range(days - 1, -1, -1)]


def mase_scale(history: pl.DataFrame, season: int, *, regulated: bool = False) -> pl.DataFrame:
    """Per series: mean |y_t − y_{t−season}| over observed pairs of the history (the MASE denominator); with
    ``regulated`` only over pairs whose t is a regulated hour, the same hours the errors are scored on."""
    lagged = history.sort(["unique_id", "ds"]).with_columns(
        prev=pl.col("y").shift(season).over("unique_id"), prev_obs=pl.col("observed").shift(season).over("unique_id"))
    ok = lagged.filter(pl.col("observed") & pl.col("prev_obs").fill_null(False))
    if regulated:
        ok = ok.filter(regulated_expr("ds"))
    return ok.group_by("unique_id").agg(scale=(pl.col("y") - pl.col("prev")).abs().mean())


def _scored_mask(frame: pl.DataFrame, regulated: bool) -> pl.Expr:
    return pl.col("observed") & regulated_expr("ds") if regulated else pl.col("observed")


def _windows(series: pl.DataFrame, grid: Grid, origins: list[datetime], horizon: int,
             min_history_days: int) -> list[tuple[datetime, list[str]]]:
    """Per origin, the series with ``min_history_days`` of history before it and something observed."""
    first = series.group_by("unique_id").agg(first=pl.col("ds").min(), obs=pl.col("observed").sum())
    out = []
    for origin in origins:
        need = datetime.combine(origin.date() - timedelta(days=min_history_days), grid.slots[0])
        keep = first.filter((pl.col("first") <= need) & (pl.col("obs") > 0))["unique_id"].sort().to_list()
        if keep:
            out.append((origin, keep))
    return out


def _refuse(series: pl.DataFrame, grid: Grid, horizon: int, min_history_days: int, possible: int, scorable: int,
            what: str) -> NotEnoughData:
    first, last = series["ds"].min(), series["ds"].max()
    assert isinstance(first, datetime) and isinstance(last, datetime)
    days = (last.date() - first.date()).days + 1
    h_days = horizon / grid.slots_per_day
    h_text = f"{h_days:g}-day" if h_days == int(h_days) else f"{horizon}-slot"
    most = days - math.ceil(h_days)
    advice = (f"use --min-history {most}d or fewer (at least {NAIVE_MIN_HISTORY_DAYS}d)"
              if most >= NAIVE_MIN_HISTORY_DAYS else
              f"bring at least {NAIVE_MIN_HISTORY_DAYS + math.ceil(h_days)} days of data")
    return NotEnoughData(
        f"{what} covers {days} days; with {min_history_days} days of history and a {h_text} horizon only "
        f"{scorable} points can be scored ({possible} full horizon(s) for {series['unique_id'].n_unique()} "
        f"series) — {advice}",
        details={"days": days, "min_history_days": min_history_days, "horizon": horizon, "points": scorable,
                 "windows": possible})


ENGINES = ("embedded", "spark")


@dataclass(frozen=True)
class Window:
    """One origin: the series scored there (``keep``), their truth over the horizon and their MASE scale."""

    origin: datetime
    keep: tuple[str, ...]
    truth: pl.DataFrame
    scale: pl.DataFrame


@dataclass(frozen=True)
class Plan:
    """What every engine scores: the whole-day series and, per origin, the series, truths and scales."""

    series: pl.DataFrame
    grid: Grid
    horizon: int
    level: int
    regulated: bool
    min_days: int
    windows: tuple[Window, ...]

    @property
    def n_series(self) -> int:
        """Series scored at one origin at least."""
        return len({uid for w in self.windows for uid in w.keep})


def plan(series: pl.DataFrame, grid: Grid, *, horizon: int, origins: int = 14,
         models: Sequence[str] = DEFAULT_MODELS, regulated: bool = False, level: int = 80,
         factories: Mapping[str, Callable[[], Forecaster]] | None = None,
         min_history_days: int | None = None, what: str = "the data") -> Plan:
    """Whole days, origins, series per origin, truths and scales; raises :class:`NotEnoughData` (see the module)."""
    unknown = [m for m in models if m not in MODELS and m not in (factories or {})]
    if unknown:
        raise InvalidInput(f"unknown model {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    min_days = default_min_history(models) if min_history_days is None else min_history_days
    if min_days < NAIVE_MIN_HISTORY_DAYS:
        raise InvalidInput(f"min_history_days must be at least {NAIVE_MIN_HISTORY_DAYS}")
    series = whole_days(series, grid, regulated=regulated)
    if series.is_empty():
        raise NotEnoughData(f"{what} hold no complete day")
    full_scale = mase_scale(series, grid.weekly, regulated=regulated).rename({"scale": "full"})
    windows = []
    for origin, keep in _windows(series, grid, origins_of(series, grid, origins, horizon), horizon, min_days):
        history = series.filter(pl.col("ds") < origin, pl.col("unique_id").is_in(keep))
        scale = mase_scale(history, grid.weekly, regulated=regulated).join(
            full_scale, on="unique_id", how="right").select("unique_id", scale=pl.coalesce("scale", "full"))
        truth = series.filter(pl.col("ds").is_between(origin, window_end(grid, origin, horizon)),
                              pl.col("unique_id").is_in(keep))
        windows.append(Window(origin, tuple(keep), truth, scale))
    scorable = sum(w.truth.filter(_scored_mask(w.truth, regulated)).height for w in windows)
    possible = sum(len(w.keep) for w in windows)
    if possible < series["unique_id"].n_unique() or scorable == 0:
        raise _refuse(series, grid, horizon, min_days, possible, scorable, what)
    return Plan(series, grid, horizon, level, regulated, min_days, tuple(windows))


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


def backtest(series: pl.DataFrame, grid: Grid, *, horizon: int, origins: int = 14,
             models: Sequence[str] = DEFAULT_MODELS, regulated: bool = False, level: int = 80,
             factories: dict[str, Callable[[], Forecaster]] | None = None,
             min_history_days: int | None = None, what: str = "the data",
             engine: str = "embedded") -> list[dict[str, Any]]:
    """Rolling-origin backtest of ``models`` on the same series and origins; one row per model (see the module).

    ``engine``: ``embedded`` fits every (origin, model) in this process; ``spark`` fans the same fits out on Spark
    (:func:`shipml.apps.parking.spark.backtest_on_spark`: a per-series model per (series, origin), a global one per
    origin) and gives the same rows (``fit_seconds`` aside). Spark pays off with many series × origins × slow
    per-series models (MSTL, AutoETS, Prophet) and a cluster (``SHIPML_SPARK_MASTER``); on one machine and a few
    dozen series the embedded engine is as fast or faster.

    Raises :class:`NotEnoughData` when fewer full horizons than series can be scored.
    """
    if engine not in ENGINES:
        raise InvalidInput(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    p = plan(series, grid, horizon=horizon, origins=origins, models=models, regulated=regulated, level=level,
             factories=factories, min_history_days=min_history_days, what=what)
    if engine == "spark":
        from shipml.apps.parking.spark import backtest_on_spark

        return backtest_on_spark(p, models, factories)
    rows = []
    for name in models:
        scored, seconds = [], []
        for i in range(len(p.windows)):
            points, took = score_task(p, i, forecaster(name, factories))
            scored.append(points)
            seconds.append(took)
        rows.append(summarise(p, name, pl.concat(scored), seconds))
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


def evaluate_occupancy(path: Path | str, id_col: str, time_col: str, capacity_col: str | None = None,
                       occupied_col: str | None = None, free_col: str | None = None,
                       names: Sequence[str] | None = None, freq: str = "30min", horizon: str | int = "1d", *,
                       origins: int = 14, models: Sequence[str] = DEFAULT_MODELS,
                       regulated: bool = False, separator: str = ",",
                       min_history: str | int | None = None, engine: str = "embedded") -> list[dict[str, Any]]:
    """Backtest every model on any occupancy file; one row per model (``model``, ``mase``, ``mae``,
    ``fit_seconds``, ``series``, ``origins``, ``coverage``, ``points``, ``min_history_days``).

    ``min_history``: days (``14``, ``14d``) or weeks (``2w``); default two weeks, one for the naive alone.
    ``engine``: ``embedded`` or ``spark`` (see :func:`backtest`)."""
    min_days = parse_days(min_history, default_min_history(models))
    data: OccupancyData = read_occupancy(Path(path), id_col=id_col, time_col=time_col, capacity_col=capacity_col,
                                         occupied_col=occupied_col, free_col=free_col,
                                         names=list(names) if names else None, freq=freq,
                                         separator=separator)
    steps = horizon_steps(horizon, data.grid, freq)
    return backtest(data.series, data.grid, horizon=steps, origins=origins, models=models, regulated=regulated,
                    min_history_days=min_days, what="this file", engine=engine)
