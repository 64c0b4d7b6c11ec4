"""Issue 19 experiment (not a product model: it did not beat the weekly naive on the scored days).

Cross-sectional (pooled) growth: what every car park did lately, against the week before, as one number per day.

The run-up to a holiday lifts every series together; one park's own change from a week to the next is noisy, the
sum over all parks is not. :func:`calendar` puts every series' daily means (scaled by its own level) on one calendar
of dates × series; :func:`growth` is, for a day, the pooled ratio of the ``window`` days before it to the same days
a week earlier (sums over the series observed on both), shrunk toward 1 by ``shrink``.

:class:`PooledNaive` is last week's same slot × the pooled growth (no fit).
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from shipml.apps.parking.direct import DirectLightGbm, _Series
from shipml.apps.parking.series import FORECAST_SCHEMA, Grid


def calendar(series: list[_Series]) -> tuple[date, np.ndarray]:
    """(first date, dates × series matrix of each series' scaled daily mean, NaN where it has no day)."""
    first = min(s.first for s in series)
    days = max((s.first - first).days + s.y.shape[0] for s in series)
    m = np.full((days, len(series)), np.nan)
    for j, s in enumerate(series):
        offset = (s.first - first).days
        with np.errstate(invalid="ignore"):
            counts = np.isfinite(s.y).sum(axis=1)
            means = np.where(counts > 0, np.nansum(s.y, axis=1) / np.maximum(counts, 1), np.nan)
        m[offset: offset + s.y.shape[0], j] = means
    return first, m


def growth(m: np.ndarray, day: int, window: int = 7, lag: int = 7, skip: int = 0) -> float:
    """Pooled ratio of the ``window`` days ending ``skip`` days before ``day`` to the same days ``lag`` earlier;
    NaN when nothing is comparable."""
    hi = day - skip
    lo = hi - window
    if lo - lag < 0:
        return math.nan
    now, before = m[lo:hi], m[lo - lag: hi - lag]
    ok = np.isfinite(now) & np.isfinite(before)
    total = before[ok].sum()
    return float(now[ok].sum() / total) if ok.any() and total > 0 else math.nan


class PooledNaive(DirectLightGbm):
    """Last week's same slot × (1 + shrink · (pooled growth − 1)); the interval is the direct model's conformal one
    (on this forecast's held-out errors)."""

    name = "pooled_naive"

    def __init__(self, window: int = 7, shrink: float = 1.0, calibration_days: int = 28, **kwargs: Any) -> None:
        super().__init__(calibration_days=calibration_days, **kwargs)
        self.window, self.shrink = window, shrink

    def _factor(self, m: np.ndarray, day: int) -> float:
        g = growth(m, day, self.window)
        return 1.0 if not math.isfinite(g) else 1.0 + self.shrink * (g - 1.0)

    def fit(self, history: pl.DataFrame, grid: Grid) -> PooledNaive:
        self.grid = grid
        self.series = self._matrices(history, grid)
        self.first, m = calendar(self.series)
        errors = []
        for j, s in enumerate(self.series):
            offset = (s.first - self.first).days
            for day in range(max(s.y.shape[0] - self.calibration_days, 7), s.y.shape[0]):
                yhat = s.y[day - 7] * self._factor(m, offset + day)
                ok = s.observed[day] & np.isfinite(yhat)
                e = (s.y[day] - yhat) * s.scale / s.mase_scale
                weekday = (s.first + timedelta(days=day)).weekday()
                errors += [(weekday, int(k), float(e[k])) for k in np.flatnonzero(ok)]
            del j
        self.errors = pl.DataFrame(errors, schema={"weekday": pl.Int64, "slot": pl.Int64, "e": pl.Float64},
                                   orient="row")
        self.weights = {}
        return self

    def predict(self, h: int, level: int = 80) -> pl.DataFrame:
        quantiles = self._quantiles(level)
        extra = math.ceil(h / self.grid.slots_per_day) + 1
        ys = [np.vstack([s.y, np.full((extra, self.grid.slots_per_day), np.nan)]) for s in self.series]
        last_date = max(s.last.date() for s in self.series)
        full = {s.uid: s.last.time() == self.grid.slots[-1] for s in self.series}
        for step in range(extra + 1):
            when = last_date + timedelta(days=step)
            trial = [_Series(s.uid, s.first, y, s.observed, s.scale, s.mase_scale, s.last)
                     for s, y in zip(self.series, ys, strict=True)]
            _, m = calendar(trial)
            for s, y in zip(self.series, ys, strict=True):
                day = (when - s.first).days
                start = (s.last.date() - s.first).days + (1 if full[s.uid] else 0)
                if day < start or day >= y.shape[0]:
                    continue
                value = y[day - 7] * self._factor(m, (when - self.first).days)
                unknown = ~np.isfinite(y[day])
                y[day, unknown] = value[unknown]
        frames = []
        for s, y in zip(self.series, ys, strict=True):
            times = self.grid.after(s.last, h)
            rows = [((t.date() - s.first).days, self.grid.slots.index(t.time())) for t in times]
            yhat = np.array([y[d, k] for d, k in rows]) * s.scale
            q = np.array([quantiles.get((t.weekday(), k), (0.0, 0.0)) for t, (_, k) in zip(times, rows,
                                                                                            strict=True)])
            frames.append(pl.DataFrame({"unique_id": s.uid, "ds": times, "yhat": yhat,
                                        "lo": yhat + q[:, 0] * s.mase_scale, "hi": yhat + q[:, 1] * s.mase_scale}))
        return pl.concat(frames).cast(FORECAST_SCHEMA).select(list(FORECAST_SCHEMA))  # type: ignore[arg-type]


EXPERIMENTS: dict[str, Any] = {
    **{f"pooled_w{w}_s{s}": (lambda w=w, s=s: PooledNaive(window=w, shrink=s))
       for w in (1, 3, 7) for s in (0.5, 1.0)},
}
