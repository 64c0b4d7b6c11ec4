"""The global LightGBM forecaster (one model across every series, mlforecast) and the step helpers it shares with
the per-series forecasters of :mod:`shipml.apps.parking.forecasters`.

Its own module because both :mod:`~shipml.apps.parking.forecasters` (the registry of models) and
:mod:`~shipml.apps.parking.direct` (whose median takes it as a member) use it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl

from shipml.apps.parking.series import FORECAST_SCHEMA, Grid


def future_slots(history: pl.DataFrame, grid: Grid, h: int) -> pl.DataFrame:
    """``unique_id``, ``step`` (1…h), ``ds`` for the h slots after each series' last slot."""
    rows: dict[str, list[Any]] = {"unique_id": [], "step": [], "ds": []}
    for uid, last in history.group_by("unique_id").agg(pl.col("ds").max()).sort("unique_id").iter_rows():
        for step, ds in enumerate(grid.after(last, h), start=1):
            rows["unique_id"].append(uid)
            rows["step"].append(step)
            rows["ds"].append(ds)
    return pl.DataFrame(rows, schema={"unique_id": pl.String, "step": pl.Int64, "ds": pl.Datetime("us")})


def with_steps(history: pl.DataFrame) -> pl.DataFrame:
    """Integer time steps per series (statsforecast and mlforecast see equally spaced steps)."""
    return history.sort(["unique_id", "ds"]).with_columns(step=pl.int_range(pl.len()).over("unique_id") + 1)



class GlobalLightGbm:
    """One LightGBM across all series (mlforecast), on ``y / capacity``; conformal intervals. It learns from the
    last ``history_weeks`` of each series: the weekly and daily patterns it models need months, not years, and the
    fit time grows with the rows (four years of hourly data: ~70 s per fit; one year: a quarter of that)."""

    name = "global_lightgbm"

    def __init__(self, n_estimators: int = 300, learning_rate: float = 0.05, num_leaves: int = 31,
                 seed: int = 0, recursive: bool = False, conformal: bool = True, history_weeks: int = 52) -> None:
        self.recursive, self.conformal, self.history_weeks = recursive, conformal, history_weeks
        self.params: dict[str, Any] = {"n_estimators": n_estimators, "learning_rate": learning_rate,
                                       "num_leaves": num_leaves, "random_state": seed, "verbosity": -1,
                                       "n_jobs": 1}  # one thread: 2.8x faster than two on a busy 2-core box

    def _features(self, frame: pl.DataFrame) -> pl.DataFrame:
        slot_index = {s: i for i, s in enumerate(self.grid.slots)}
        return frame.with_columns(
            slot=pl.col("ds").dt.time().replace_strict(slot_index, return_dtype=pl.Int32),
            weekday=pl.col("ds").dt.weekday().cast(pl.Int32),
        )

    def fit(self, history: pl.DataFrame, grid: Grid) -> GlobalLightGbm:
        self.grid, self.history = grid, history
        self.capacity = dict(history.group_by("unique_id").agg(pl.col("capacity").max()).iter_rows())
        return self

    def predict(self, h: int, level: int = 80) -> pl.DataFrame:
        import lightgbm as lgb
        from mlforecast import MLForecast
        from mlforecast.lag_transforms import RollingMean
        from mlforecast.utils import PredictionIntervals

        d, w = self.grid.slots_per_day, self.grid.weekly
        since = self.history["ds"].max() - timedelta(weeks=self.history_weeks)  # type: ignore[operator]
        stepped = self._features(with_steps(self.history.filter(pl.col("ds") > since)))
        train = stepped.select("unique_id", "slot", "weekday", ds="step",
                               y=pl.col("y") / pl.col("capacity").clip(lower_bound=1.0)).to_pandas()
        mlf = MLForecast(models={"lgb": lgb.LGBMRegressor(**self.params)}, freq=1,
                         lags=([1, 2, 3] if self.recursive else []) + [d, d + 1, 2 * d, w],
                         lag_transforms={d: [RollingMean(window_size=d), RollingMean(window_size=w)]})
        intervals = PredictionIntervals(n_windows=2, h=h) if self.conformal else None
        mlf.fit(train, static_features=[], prediction_intervals=intervals)
        future = self._features(future_slots(self.history, self.grid, h))
        last = stepped.group_by("unique_id").agg(last=pl.col("step").max())
        x_df = future.join(last, on="unique_id").select(
            "unique_id", "slot", "weekday", ds=pl.col("step") + pl.col("last")).to_pandas()
        fc = pl.from_pandas(mlf.predict(h, X_df=x_df, level=[level] if self.conformal else None))
        if not self.conformal:  # the caller makes the interval (e.g. from holdout errors)
            fc = fc.with_columns(pl.col("lgb").alias(f"lgb-lo-{level}"), pl.col("lgb").alias(f"lgb-hi-{level}"))
        cap = pl.DataFrame({"unique_id": list(self.capacity), "cap": list(self.capacity.values())},
                           schema={"unique_id": pl.String, "cap": pl.Float64})
        fc = fc.join(last, on="unique_id").join(cap, on="unique_id").select(
            "unique_id", step=pl.col("ds").cast(pl.Int64) - pl.col("last"),
            yhat=pl.col("lgb") * pl.col("cap"), lo=pl.col(f"lgb-lo-{level}") * pl.col("cap"),
            hi=pl.col(f"lgb-hi-{level}") * pl.col("cap"))
        return future.join(fc, on=["unique_id", "step"]).select(list(FORECAST_SCHEMA))
