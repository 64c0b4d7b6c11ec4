"""The Spark path: every series' model fitted and forecast in a grouped pandas UDF, for cities with thousands of
series (``local[*]`` by default, a cluster by ``SHIPML_SPARK_MASTER``; see :mod:`shipml.core.spark`).

Each group is one series, given to the very same forecaster class as the embedded path, so the forecasts are the
same (a test checks it). The per-series models (seasonal naive, MSTL, AutoETS, Prophet as the original) run here;
the global LightGBM learns from all series at once and is not split by series: at that scale it trains on one
machine from the (small) hourly table, or on a sample of series.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from shipml.apps.parking.forecasters import FORECAST_SCHEMA, MODELS, make_forecaster
from shipml.apps.parking.series import Grid
from shipml.core.errors import InvalidInput

PER_SERIES = ("seasonal_naive", "mstl", "auto_ets", "prophet_original")
SPARK_SCHEMA = "unique_id string, ds timestamp, yhat double, lo double, hi double"


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
