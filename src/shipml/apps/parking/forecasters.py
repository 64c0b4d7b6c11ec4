"""Forecasters of many series behind one small interface: ``fit(history, grid)`` then ``predict(h, level)``.

``history`` has ``unique_id``, ``ds`` (on the :class:`~shipml.apps.parking.series.Grid`), ``y`` (gaps filled),
``capacity``; ``predict`` returns ``unique_id``, ``ds``, ``yhat``, ``lo``, ``hi`` (a central ``level`` % interval)
for the ``h`` grid slots after each series' end. Statistical models see the series as equally spaced steps (a day
is ``slots_per_day`` steps), so a feed that only reports by day has no night to invent.

- :class:`SeasonalNaive` — the value one week earlier; interval from its in-sample errors;
- :class:`Mstl` — statsforecast MSTL (daily + weekly seasons, AutoETS trend);
- :class:`AutoEts` — statsforecast AutoETS (daily season; ETS cannot take a weekly one of > 24 steps);
- :class:`ProphetOriginal` — one Prophet per series with the original's exact settings;
- :class:`~shipml.apps.parking.direct.DirectLightGbm` — a day-ahead LightGBM (l1, per-series scaling) blended with
  the last four weeks brought to the last week's level; per slot the median of the LightGBM, those weeks, MSTL,
  :class:`GlobalLightGbm` and those weeks at an AutoETS daily level; conformal intervals per slot of the week
  (see :mod:`.direct`);
- :class:`GlobalLightGbm` — one LightGBM across every series (mlforecast), on the occupied share of capacity,
  with lags known a day ahead (a day, a day and a step, two days, a week; means of the last day and week), the
  slot of the day and the weekday — no recursion on its own forecasts (``recursive=True`` adds lags 1–3);
  conformal intervals.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Protocol

import numpy as np
import polars as pl

from shipml.apps.parking.direct import DirectLightGbm
from shipml.apps.parking.series import FORECAST_SCHEMA, Grid
from shipml.core.errors import InvalidInput

log = logging.getLogger(__name__)

PROPHET_ORIGINAL = {"changepoint_prior_scale": 0.001, "seasonality_prior_scale": 10, "seasonality_mode": "additive",
                    "yearly_seasonality": "auto", "weekly_seasonality": "auto", "daily_seasonality": True}
PROPHET_CUSTOM_DAILY_FOURIER = 8


class Forecaster(Protocol):
    name: str

    def fit(self, history: pl.DataFrame, grid: Grid) -> Forecaster: ...

    def predict(self, h: int, level: int = 80) -> pl.DataFrame: ...


def _future(history: pl.DataFrame, grid: Grid, h: int) -> pl.DataFrame:
    """``unique_id``, ``step`` (1…h), ``ds`` for the h slots after each series' last slot."""
    rows: dict[str, list[Any]] = {"unique_id": [], "step": [], "ds": []}
    for uid, last in history.group_by("unique_id").agg(pl.col("ds").max()).sort("unique_id").iter_rows():
        for step, ds in enumerate(grid.after(last, h), start=1):
            rows["unique_id"].append(uid)
            rows["step"].append(step)
            rows["ds"].append(ds)
    return pl.DataFrame(rows, schema={"unique_id": pl.String, "step": pl.Int64, "ds": pl.Datetime("us")})


def _with_steps(history: pl.DataFrame) -> pl.DataFrame:
    """Integer time steps per series (statsforecast and mlforecast see equally spaced steps)."""
    return history.sort(["unique_id", "ds"]).with_columns(step=pl.int_range(pl.len()).over("unique_id") + 1)


class SeasonalNaive:
    """The value one week (``grid.weekly`` slots) earlier."""

    name = "seasonal_naive"

    def fit(self, history: pl.DataFrame, grid: Grid) -> SeasonalNaive:
        self.grid, self.history = grid, history.sort(["unique_id", "ds"])
        return self

    def predict(self, h: int, level: int = 80) -> pl.DataFrame:
        m = self.grid.weekly
        if h > m:
            raise InvalidInput(f"seasonal naive forecasts at most one season ({m} slots) ahead")
        future = _future(self.history, self.grid, h)
        out = []
        for (uid,), group in self.history.group_by(["unique_id"], maintain_order=True):
            y = group["y"].to_numpy()
            last = y[-m:] if len(y) >= m else np.resize(y, m)
            err = (y[m:] - y[:-m]) if len(y) > m else np.zeros(1)
            lo_q, hi_q = np.quantile(err, [(1 - level / 100) / 2, 1 - (1 - level / 100) / 2])
            yhat = last[:h]
            out.append(pl.DataFrame({"unique_id": uid, "yhat": yhat, "lo": yhat + lo_q, "hi": yhat + hi_q,
                                     "step": np.arange(1, h + 1)}))
        return future.join(pl.concat(out), on=["unique_id", "step"]).select(list(FORECAST_SCHEMA))


class _StatsForecast:
    name = "statsforecast"

    def _models(self, grid: Grid) -> list[Any]:
        raise NotImplementedError

    def fit(self, history: pl.DataFrame, grid: Grid) -> _StatsForecast:
        self.grid, self.history = grid, history
        return self

    def predict(self, h: int, level: int = 80) -> pl.DataFrame:
        from statsforecast import StatsForecast

        stepped = _with_steps(self.history)
        frame = stepped.select("unique_id", ds="step", y="y").to_pandas()
        sf = StatsForecast(models=self._models(self.grid), freq=1, n_jobs=1)
        result: Any = sf.forecast(df=frame, h=h, level=[level])
        fc = pl.from_pandas(result.reset_index(drop=False))
        model = [c for c in fc.columns if c not in ("unique_id", "ds", "index") and "-lo-" not in c
                 and "-hi-" not in c][0]
        last = stepped.group_by("unique_id").agg(last=pl.col("step").max())
        fc = fc.join(last, on="unique_id").select(
            "unique_id", step=pl.col("ds").cast(pl.Int64) - pl.col("last"), yhat=pl.col(model),
            lo=pl.col(f"{model}-lo-{level}"), hi=pl.col(f"{model}-hi-{level}"))
        return _future(self.history, self.grid, h).join(fc, on=["unique_id", "step"]).select(list(FORECAST_SCHEMA))


class Mstl(_StatsForecast):
    name = "mstl"

    def _models(self, grid: Grid) -> list[Any]:
        from statsforecast.models import MSTL

        return [MSTL(season_length=[grid.slots_per_day, grid.weekly])]


class AutoEts(_StatsForecast):
    name = "auto_ets"

    def _models(self, grid: Grid) -> list[Any]:
        from statsforecast.models import AutoETS

        return [AutoETS(season_length=min(grid.slots_per_day, 24))]


class ProphetOriginal:
    """One Prophet per series, configured exactly as the original sermadrid app."""

    name = "prophet_original"

    def fit(self, history: pl.DataFrame, grid: Grid) -> ProphetOriginal:
        from prophet import Prophet

        for noisy in ("prophet", "cmdstanpy"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self.grid, self.history, self.models = grid, history, {}
        for (uid,), group in history.sort("ds").group_by(["unique_id"], maintain_order=True):
            model = Prophet(**PROPHET_ORIGINAL, interval_width=0.8)  # type: ignore[arg-type]
            model.add_seasonality(name="custom_daily", period=1, fourier_order=PROPHET_CUSTOM_DAILY_FOURIER)
            model.fit(group.select("ds", "y").to_pandas())
            self.models[str(uid)] = model
        return self

    def predict(self, h: int, level: int = 80) -> pl.DataFrame:
        future = _future(self.history, self.grid, h)
        out = []
        for (uid,), group in future.group_by(["unique_id"], maintain_order=True):
            model = self.models[str(uid)]
            model.interval_width = level / 100
            # Prophet draws its interval from numpy's global generator: seeded here (and the caller's state put
            # back), so that the same fit gives the same interval, and so the same coverage, every time
            state = np.random.get_state()
            np.random.seed(0)
            try:
                fc = model.predict(group.select("ds").to_pandas())
            finally:
                np.random.set_state(state)
            out.append(pl.DataFrame({"unique_id": str(uid), "ds": group["ds"], "yhat": fc["yhat"].to_numpy(),
                                     "lo": fc["yhat_lower"].to_numpy(), "hi": fc["yhat_upper"].to_numpy()}))
        return pl.concat(out).cast(FORECAST_SCHEMA)  # type: ignore[arg-type]


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
        stepped = self._features(_with_steps(self.history.filter(pl.col("ds") > since)))
        train = stepped.select("unique_id", "slot", "weekday", ds="step",
                               y=pl.col("y") / pl.col("capacity").clip(lower_bound=1.0)).to_pandas()
        mlf = MLForecast(models={"lgb": lgb.LGBMRegressor(**self.params)}, freq=1,
                         lags=([1, 2, 3] if self.recursive else []) + [d, d + 1, 2 * d, w],
                         lag_transforms={d: [RollingMean(window_size=d), RollingMean(window_size=w)]})
        intervals = PredictionIntervals(n_windows=2, h=h) if self.conformal else None
        mlf.fit(train, static_features=[], prediction_intervals=intervals)
        future = self._features(_future(self.history, self.grid, h))
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


MODELS: dict[str, type[Any]] = {m.name: m for m in (SeasonalNaive, Mstl, AutoEts, ProphetOriginal, GlobalLightGbm,
                                                    DirectLightGbm)}


def make_forecaster(name: str) -> Forecaster:
    try:
        return MODELS[name]()  # type: ignore[no-any-return]
    except KeyError as exc:
        raise InvalidInput(f"unknown model {name!r}; choose from {', '.join(MODELS)}") from exc

