"""The Spark path: every series' model fitted and forecast in a grouped pandas UDF, for cities with thousands of
series (``local[*]`` by default, a cluster by ``SHIPML_SPARK_MASTER``; see :mod:`shipml.core.spark`).

Each group is one series, given to the very same forecaster class as the embedded path, so the forecasts are the
same (a test checks it). The per-series models (seasonal naive, MSTL, AutoETS, Prophet as the original) run here;
the global LightGBM learns from all series at once and is not split by series: at that scale it trains on one
machine from the (small) hourly table, or on a sample of series.

:func:`backtest_on_spark` is the backtest's Spark engine (``shipml eval parking --engine spark``): the plan (whole
days, origins, truths, scales) is made on the driver and broadcast once; a small table of tasks, one per (series,
origin) of a per-series model and one per origin of a global one (``global_lightgbm``, ``direct_lightgbm``, any
calibrated model: they learn across series), is spread over the executors, each task runs the embedded engine's own
kernel (:func:`~shipml.apps.parking.backtest.score_task`), and the scored points come back to the driver, which
summarises them as the embedded engine does: the same rows (a test checks it). Use it for many series × origins
and slow models on a cluster; on one machine with a few dozen series the embedded engine is about as fast
(``benchmarks/parking_spark_backtest``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import polars as pl

from shipml.apps.parking.forecasters import FORECAST_SCHEMA, MODELS, Forecaster, make_forecaster
from shipml.apps.parking.series import Grid
from shipml.core.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from shipml.apps.parking.backtest_plan import Plan

PER_SERIES = ("seasonal_naive", "mstl", "auto_ets", "prophet_original")
SPARK_SCHEMA = "unique_id string, ds timestamp, yhat double, lo double, hi double"
TASK_SCHEMA = "model string, window int, unique_id string"
# a scored point (seconds null), or a task's time (seconds set, the rest null); ds in microseconds, no time zone
SCORED_SCHEMA = ("model string, window int, unique_id string, ds long, scale double, err double, inside boolean, "
                 "seconds double")


def forecast_with_spark(series: pl.DataFrame, grid: Grid, model: str, h: int, level: int = 80,
                        partitions: int | None = None) -> pl.DataFrame:
    """Fit ``model`` on every series (``unique_id``, ``ds``, ``y``, ``observed``, ``capacity``) on Spark and
    forecast ``h`` slots; the same frame as ``make_forecaster(model).fit(series, grid).predict(h, level)``."""
    if model not in PER_SERIES:
        known = ", ".join(PER_SERIES)
        raise InvalidInput(f"{model!r} is not a per-series model ({known} are)" if model in MODELS
                           else f"unknown model {model!r}; choose from {known}")
    from shipml.core.spark import session

    spark = session("shipml-parking")
    frame = series.select("unique_id", "ds", "y", "observed", "capacity").to_pandas()
    sdf = spark.createDataFrame(frame).repartition(partitions or max(1, spark.sparkContext.defaultParallelism),
                                                    "unique_id")

    def one(group: Any) -> Any:  # runs on the executors: one series → its forecast
        history = pl.from_pandas(group).with_columns(pl.col("ds").cast(pl.Datetime("us")))
        return make_forecaster(model).fit(history, grid).predict(h, level).to_pandas()

    out = sdf.groupBy("unique_id").applyInPandas(one, schema=SPARK_SCHEMA).toPandas()
    return pl.from_pandas(out).with_columns(pl.col("ds").cast(pl.Datetime("us"))).cast(
        FORECAST_SCHEMA).sort(["unique_id", "ds"])  # type: ignore[arg-type]


Factories = Mapping[str, Callable[[], Forecaster]] | None


def per_series(model: Forecaster) -> bool:
    """Whether a model fits each series on its own (so one series at a time gives the same forecast)."""
    return type(model) in {MODELS[name] for name in PER_SERIES}


def backtest_tasks(p: Plan, models: Sequence[str], factories: Factories = None) -> list[tuple[str, int, str | None]]:
    """(model, window, series) for each fit: every series apart for a per-series model, all together (``None``)
    for a global one; the global ones first, so the longest tasks start first."""
    from shipml.apps.parking.backtest_kernel import forecaster

    split = {name: per_series(forecaster(name, factories)) for name in models}
    together = [(name, w, None) for name in models if not split[name] for w in range(len(p.windows))]
    apart = [(name, w, uid) for name in models if split[name] for w, window in enumerate(p.windows)
             for uid in window.keep]
    return [*together, *apart]


def _runner(plan: Any, factories: Factories) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    def run(tasks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:  # on the executors: a slice of the tasks
        from shipml.apps.parking.backtest_kernel import forecaster, score_task

        p: Plan = plan.value
        alone: dict[Any, pl.DataFrame] | None = None
        for frame in tasks:
            for name, window, uid in frame.itertuples(index=False):
                one = p
                if isinstance(uid, str):
                    if alone is None:  # each series on its own, once per slice
                        alone = p.series.partition_by("unique_id", as_dict=True)
                    one = replace(p, series=alone[(uid,)])
                scored, seconds = score_task(one, int(window), forecaster(name, factories),
                                             uid if isinstance(uid, str) else None)
                yield pl.concat([
                    scored.select(model=pl.lit(name), window=pl.lit(window, pl.Int32), unique_id="unique_id",
                                  ds=pl.col("ds").dt.epoch("us"), scale="scale", err="err", inside="inside",
                                  seconds=pl.lit(None, pl.Float64)),
                    pl.DataFrame({"model": [name], "window": [window], "seconds": [seconds]}, schema_overrides={
                        "window": pl.Int32})], how="diagonal_relaxed").to_pandas()

    return run


def backtest_on_spark(p: Plan, models: Sequence[str], factories: Factories = None,
                      partitions: int | None = None) -> list[dict[str, Any]]:
    """The backtest's rows for ``models`` on the plan ``p``, every fit a Spark task (see the module); the same rows
    as the embedded engine. ``partitions``: slices of the task table, each a Spark task (default: two per core;
    every slice costs a Spark task's overhead, ~0.1 s, and more slices balance uneven fits better)."""
    from shipml.apps.parking.backtest_kernel import summarise
    from shipml.core.spark import SparkUnavailable, session

    spark = session("shipml-parking")
    tasks = backtest_tasks(p, models, factories)
    n = min(len(tasks), partitions or 2 * max(1, spark.sparkContext.defaultParallelism))
    dealt = [task for i in range(n) for task in tasks[i::n]]  # contiguous slices, each a share of the long fits
    plan = spark.sparkContext.broadcast(p)
    try:
        table = spark.createDataFrame(spark.sparkContext.parallelize(dealt, n), TASK_SCHEMA)
        out = table.mapInPandas(_runner(plan, factories), SCORED_SCHEMA).toPandas()
    except Exception as exc:  # a model's failure on an executor, raised here from the JVM
        last = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise SparkUnavailable(f"the backtest on Spark failed: {last}") from exc
    finally:
        plan.destroy()
    rows = pl.from_pandas(out)
    origins = pl.DataFrame({"window": range(len(p.windows)), "origin": [w.origin for w in p.windows]},
                           schema={"window": pl.Int32, "origin": pl.Datetime("us")})
    result = []
    for name in models:
        mine = rows.filter(pl.col("model") == name)
        timed = mine.filter(pl.col("seconds").is_not_null()).group_by("window").agg(pl.col("seconds").sum())
        scored = mine.filter(pl.col("seconds").is_null()).join(origins, on="window").select(
            "unique_id", "origin", "scale", "err", "inside", ds=pl.from_epoch("ds", time_unit="us"))
        result.append(summarise(p, name, scored, timed.sort("window")["seconds"].to_list()))
    return result
