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
from typing import Any, Protocol

import numpy as np
import polars as pl

from shipml.apps.parking.direct import DirectLightGbm
from shipml.apps.parking.global_lightgbm import GlobalLightGbm, future_slots, with_steps
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
        future = future_slots(self.history, self.grid, h)
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

        stepped = with_steps(self.history)
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
        return future_slots(self.history, self.grid, h).join(fc, on=["unique_id", "step"]).select(list(FORECAST_SCHEMA))


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
        future = future_slots(self.history, self.grid, h)
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


MODELS: dict[str, type[Any]] = {m.name: m for m in (SeasonalNaive, Mstl, AutoEts, ProphetOriginal, GlobalLightGbm,
                                                    DirectLightGbm)}


def make_forecaster(name: str) -> Forecaster:
    try:
        return MODELS[name]()  # type: ignore[no-any-return]
    except KeyError as exc:
        raise InvalidInput(f"unknown model {name!r}; choose from {', '.join(MODELS)}") from exc

