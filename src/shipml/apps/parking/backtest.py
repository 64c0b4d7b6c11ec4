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

Three parts, so that engines differ only in where the fits run: the **plan** (:mod:`.backtest_plan`: whole days,
origins, truths, scales, refusal), the **kernel** and the **summary** (:mod:`.backtest_kernel`: :func:`score_task`
fits one model at one origin on every series, or on one series, and scores it; :func:`summarise` makes its row).
The ``embedded`` engine runs the kernel here per (model, origin); ``spark``
(:func:`shipml.apps.parking.spark.backtest_on_spark`) on executors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from shipml.apps.parking.backtest_kernel import forecaster, score_task, summarise
from shipml.apps.parking.backtest_plan import (
    DEFAULT_MIN_HISTORY_DAYS,
    DEFAULT_MODELS,
    NAIVE,
    NAIVE_MIN_HISTORY_DAYS,
    NotEnoughData,
    Plan,
    Window,
    default_min_history,
    mase_scale,
    origins_of,
    parse_days,
    plan,
    whole_days,
    window_end,
)
from shipml.apps.parking.forecasters import Forecaster
from shipml.apps.parking.occupancy import OccupancyData, horizon_steps, read_occupancy
from shipml.apps.parking.series import Grid
from shipml.core.errors import InvalidInput

__all__ = ["DEFAULT_MIN_HISTORY_DAYS", "DEFAULT_MODELS", "ENGINES", "NAIVE", "NAIVE_MIN_HISTORY_DAYS", "NotEnoughData",
           "Plan", "Window", "backtest", "default_min_history", "evaluate_occupancy", "forecaster", "mase_scale",
           "origins_of", "parse_days", "plan", "score_task", "summarise", "whole_days", "window_end"]

ENGINES = ("embedded", "spark")


def backtest(series: pl.DataFrame, grid: Grid, *, horizon: int, origins: int = 14,
             models: Sequence[str] = DEFAULT_MODELS, regulated: bool = False, level: int = 80,
             factories: dict[str, Callable[[], Forecaster]] | None = None,
             min_history_days: int | None = None, what: str = "the data",
             engine: str = "embedded") -> list[dict[str, Any]]:
    """Rolling-origin backtest of ``models`` on the same series and origins; one row per model (see the module).

    ``engine``: ``embedded`` fits every (origin, model) in this process; ``spark`` fans the same fits out on Spark
    (:func:`shipml.apps.parking.spark.backtest_on_spark`: a per-series model per (series, origin), a global one per
    origin) and gives the same rows (``fit_seconds`` aside). Use Spark for many series × origins with slow models
    (MSTL, AutoETS, Prophet: seconds per fit) on a cluster (``SHIPML_SPARK_MASTER``), where the fits spread over
    its cores; it costs a session start (25–50 s here) and ~0.1 s per Spark task. On one machine it buys at most
    its cores: on 2 shared cores (Birmingham, 29 car parks × 14 origins) ``local[2]`` was not reliably faster.

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
