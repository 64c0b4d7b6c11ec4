"""Short-term forecast of new daily cases, so the dashboard can show where the curve is heading.

Two forecasters share one interface, :class:`DailyCaseForecaster` (``fit(series, last_day)`` → self,
``predict(horizon)`` → array):

* :class:`SeasonalNaive` — each future day repeats the same weekday of the last observed week;
* :class:`LogLinearWeekly` — least squares on ``log1p(cases)`` with a linear trend and weekday
  effects over the last ``window`` days: captures growth/decline and the weekly reporting pattern.

:func:`backtest` scores a forecaster by rolling origin over the last weeks of the series (mean absolute
error of new cases per day). Both the candidate and the current champion's configuration are refit on
exactly the same cut-offs, so "better" means better on the same holdout. What the registry stores and the API
serves is a :class:`CaseForecast`: a forecaster and the last day it was fitted up to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

import numpy as np

from shipml.core.errors import InvalidInput, RejectedData


class DailyCaseForecaster(Protocol):
    """A forecaster of new cases per day (a different interface from parking's per-slot forecasters)."""

    params: dict[str, Any]

    def fit(self, series: np.ndarray, last_day: date) -> DailyCaseForecaster: ...

    def predict(self, horizon: int) -> np.ndarray: ...


@dataclass
class SeasonalNaive:
    params: dict[str, Any] = field(default_factory=lambda: {"kind": "seasonal_naive"})
    _last_week: np.ndarray | None = None

    def fit(self, series: np.ndarray, last_day: date) -> SeasonalNaive:
        if len(series) < 7:
            raise RejectedData("need at least 7 days to fit a forecast")
        self._last_week = np.nan_to_num(series[-7:].astype(float))
        return self

    def predict(self, horizon: int) -> np.ndarray:
        if self._last_week is None:
            raise InvalidInput("fit the forecaster before predicting")
        return np.resize(self._last_week, horizon)


@dataclass
class LogLinearWeekly:
    window: int = 28
    params: dict[str, Any] = field(init=False)
    _coef: np.ndarray | None = None
    _start_weekday: int = 0
    _n: int = 0

    def __post_init__(self) -> None:
        self.params = {"kind": "loglinear_weekly", "window": self.window}

    @staticmethod
    def _design(t: np.ndarray, weekday: np.ndarray) -> np.ndarray:
        dummies = (weekday[:, None] == np.arange(1, 7)[None, :]).astype(float)
        return np.column_stack([np.ones_like(t, dtype=float), t.astype(float), dummies])

    def fit(self, series: np.ndarray, last_day: date) -> LogLinearWeekly:
        y = series[-self.window:].astype(float)
        ok = ~np.isnan(y)
        if ok.sum() < 14:
            raise RejectedData("need at least 14 observed days in the window to fit a forecast")
        t = np.arange(len(y))
        first_day = last_day - timedelta(days=len(y) - 1)
        weekday = (first_day.weekday() + t) % 7
        x = self._design(t, weekday)
        self._coef, *_ = np.linalg.lstsq(x[ok], np.log1p(np.clip(y[ok], 0, None)), rcond=None)
        self._n = len(y)
        self._start_weekday = first_day.weekday()
        return self

    def predict(self, horizon: int) -> np.ndarray:
        if self._coef is None:
            raise InvalidInput("fit the forecaster before predicting")
        t = np.arange(self._n, self._n + horizon)
        weekday = (self._start_weekday + t) % 7
        return np.clip(np.expm1(self._design(t, weekday) @ self._coef), 0, None)


def from_params(params: dict[str, Any]) -> DailyCaseForecaster:
    kind = params.get("kind")
    if kind == "seasonal_naive":
        return SeasonalNaive()
    if kind == "loglinear_weekly":
        return LogLinearWeekly(window=int(params.get("window", 28)))
    raise InvalidInput(f"unknown forecaster kind {kind!r}")


def candidates() -> list[DailyCaseForecaster]:
    return [SeasonalNaive(), LogLinearWeekly(window=21), LogLinearWeekly(window=42)]


def backtest(params: dict[str, Any], series: np.ndarray, last_day: date, horizon: int = 14,
             origins: int = 4, step: int = 7) -> float:
    """Mean absolute error over ``origins`` cut-offs, each forecasting the next ``horizon`` days."""
    errors: list[float] = []
    for k in range(origins):
        cut = len(series) - horizon - k * step
        if cut < 14:
            break
        model = from_params(params).fit(series[:cut], last_day - timedelta(days=len(series) - cut))
        actual = series[cut:cut + horizon].astype(float)
        ok = ~np.isnan(actual)
        errors.append(float(np.mean(np.abs(model.predict(horizon)[ok] - actual[ok]))))
    if not errors:
        raise RejectedData("the series is too short to backtest a forecast")
    return float(np.mean(errors))


@dataclass
class CaseForecast:
    """What the registry stores: a forecaster fitted on the whole series up to ``last_day``. Made from params it
    has no ``last_day`` yet (:meth:`make`); :meth:`fit` gives the fitted one."""

    forecaster: DailyCaseForecaster
    last_day: date | None = None

    @classmethod
    def make(cls, params: dict[str, Any]) -> CaseForecast:
        return cls(from_params(params))

    def fit(self, series: np.ndarray, last_day: date) -> CaseForecast:
        return CaseForecast(self.forecaster.fit(series, last_day), last_day)

    @property
    def params(self) -> dict[str, Any]:
        return self.forecaster.params

    def predict(self, horizon: Any) -> list[dict[str, Any]]:
        if self.last_day is None:
            raise InvalidInput("fit the forecast before predicting")
        days = int(horizon)
        values = self.forecaster.predict(days)
        return [{"date": (self.last_day + timedelta(days=i + 1)).isoformat(), "cases": round(float(v), 1)}
                for i, v in enumerate(values)]
