"""The served parking model: a :class:`~shipml.core.training.Family` with one :class:`Member` per neighbourhood.

Every configuration is ``{"model": <forecaster>, "calibrate": bool}``. Fitting (:func:`fit_family`) fits the
forecaster on all the series, forecasts ``horizon_days`` after the data's end and stores, per neighbourhood, the
hourly forecast with its interval (occupied spaces), a weekly profile for times beyond the horizon, and its own
figures on a holdout of the last ``CALIBRATION_DAYS`` days (``member_metrics``).

:class:`Calibrated` wraps any forecaster: it fits once on the history minus the last days, takes the empirical
quantiles of the errors there (share of capacity, per hour of day, regulated hours only) and uses them as the
interval of the fit on all the data — split-conformal intervals. LightGBM's own conformal interval covered ~58 % of
an "80 %" interval on Birmingham; the calibrated one is built to cover what it says on fresh data.

The regulation calendar is applied identically to every model: forecasts are clipped to ``[0, capacity]`` and a
time when parking is not regulated has no number (``regulated: false``), as the original zeroed Prophet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from shipml.apps.parking.calendar import is_regulated, regulated_expr
from shipml.apps.parking.forecasters import FORECAST_SCHEMA, Forecaster, GlobalLightGbm, make_forecaster
from shipml.apps.parking.series import Grid

GRID = Grid.hourly()
CALIBRATION_DAYS = 3


def series_of(frame: pl.DataFrame) -> pl.DataFrame:
    """The dataset → forecaster series on the local hourly grid (``unique_id``, ``ds``, ``y``, ``observed``,
    ``capacity``). The hour repeated when clocks go back keeps its first reading and the skipped one reads 0: both
    fall at night, when parking is never regulated and nothing is counted."""
    local = frame.sort("hour_utc").unique(["neighbourhood_id", "hour"], keep="first", maintain_order=True)
    first, last = local["hour"].min(), local["hour"].max()
    assert isinstance(first, datetime) and isinstance(last, datetime)
    grid = pl.DataFrame({"ds": pl.datetime_range(first, last, "1h", eager=True, time_unit="us")})
    ids = local.select("neighbourhood_id", "capacity").unique("neighbourhood_id")
    full = ids.join(grid, how="cross").join(local.select("neighbourhood_id", ds="hour", y="active"),
                                            on=["neighbourhood_id", "ds"], how="left")
    return full.select(unique_id=pl.col("neighbourhood_id").cast(pl.String), ds="ds",
                       y=pl.col("y").fill_null(0).cast(pl.Float64), observed=pl.lit(True),
                       capacity=pl.col("capacity").cast(pl.Float64)).sort(["unique_id", "ds"])


def _errors(forecast: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    joined = forecast.join(truth.select("unique_id", "ds", "y", "capacity"), on=["unique_id", "ds"])
    return joined.with_columns(yhat=pl.col("yhat").clip(0.0, pl.col("capacity"))).filter(regulated_expr("ds"))


class Calibrated:
    """A forecaster whose interval is the empirical error quantiles of a holdout of its last days (see module)."""

    def __init__(self, inner: str, days: int = CALIBRATION_DAYS) -> None:
        self.inner, self.days, self.name = inner, days, f"{inner}_calibrated"

    def _fresh(self) -> Forecaster:
        if self.inner == GlobalLightGbm.name:  # its own conformal windows would be wasted work here
            return GlobalLightGbm(conformal=False)
        return make_forecaster(self.inner)

    def fit(self, history: pl.DataFrame, grid: Grid) -> Calibrated:
        cut = history["ds"].max() - timedelta(days=self.days) + timedelta(seconds=1)  # type: ignore[operator]
        before, after = history.filter(pl.col("ds") < cut), history.filter(pl.col("ds") >= cut)
        h = after.group_by("unique_id").len()["len"].max()
        held = self._fresh().fit(before, grid).predict(int(h), 80)  # type: ignore[arg-type]
        errors = _errors(held, after).select(
            "unique_id", hour=pl.col("ds").dt.hour(), e=(pl.col("y") - pl.col("yhat")) / pl.col("capacity"))
        self.errors = errors
        self.capacity = history.group_by("unique_id").agg(capacity=pl.col("capacity").max())
        self.model = self._fresh().fit(history, grid)
        return self

    def predict(self, h: int, level: int = 80) -> pl.DataFrame:
        tail = (1 - level / 100) / 2
        pooled = self.errors.select(lo=pl.col("e").quantile(tail), hi=pl.col("e").quantile(1 - tail)).row(0)
        by_hour = self.errors.group_by("hour").agg(q_lo=pl.col("e").quantile(tail), q_hi=pl.col("e").quantile(
            1 - tail), n=pl.len()).filter(pl.col("n") >= 20)
        fc = self.model.predict(h, level).with_columns(hour=pl.col("ds").dt.hour())
        fc = fc.join(by_hour, on="hour", how="left").with_columns(
            q_lo=pl.col("q_lo").fill_null(pooled[0] or 0.0), q_hi=pl.col("q_hi").fill_null(pooled[1] or 0.0))
        fc = fc.join(self.capacity, on="unique_id", how="left")
        return fc.select("unique_id", "ds", "yhat", lo=pl.col("yhat") + pl.col("q_lo") * pl.col("capacity"),
                         hi=pl.col("yhat") + pl.col("q_hi") * pl.col("capacity")).cast(
                             FORECAST_SCHEMA)  # type: ignore[arg-type]


def make(params: dict[str, Any]) -> Forecaster:
    """A fresh forecaster of one configuration."""
    name = str(params["model"])
    calibrate = str(params.get("calibrate", False)).lower() in ("true", "1")
    return Calibrated(name) if calibrate else make_forecaster(name)


@dataclass
class Member:
    """One neighbourhood's forecast: occupied spaces (of ``capacity``) per hour from ``start``, with an interval;
    beyond the horizon, the mean and 10–90 % range of the occupied share by weekday and hour of its history."""

    neighbourhood_id: int
    capacity: float
    spaces: int
    start: datetime
    yhat: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    profile: np.ndarray  # (7 weekdays, 24 hours, 3: mean, p10, p90) of the occupied share
    metrics: dict[str, float] = field(default_factory=dict)

    def occupied_share(self, at: datetime) -> tuple[float, float, float, str]:
        """(share, lo, hi, method) at a naive local time (the hour it falls in)."""
        i = int((at.replace(minute=0, second=0, microsecond=0) - self.start) // timedelta(hours=1))
        if 0 <= i < len(self.yhat):
            cap = max(self.capacity, 1.0)
            values = [float(np.clip(v / cap, 0.0, 1.0)) for v in (self.yhat[i], self.lo[i], self.hi[i])]
            return values[0], min(values[1:]), max(values[1:]), "forecast"
        mean, p10, p90 = (float(v) for v in self.profile[at.weekday(), at.hour])
        return mean, p10, p90, "weekly profile (beyond the forecast horizon)"


def _profile(history: pl.DataFrame) -> np.ndarray:
    share = history.filter(regulated_expr("ds")).select(
        wd=pl.col("ds").dt.weekday() - 1, hr=pl.col("ds").dt.hour(),
        s=(pl.col("y") / pl.col("capacity").clip(lower_bound=1.0)).clip(0.0, 1.0))
    out = np.zeros((7, 24, 3))
    for wd, hr, mean, p10, p90 in share.group_by("wd", "hr").agg(
            pl.col("s").mean().alias("mean"), pl.col("s").quantile(0.1).alias("p10"),
            pl.col("s").quantile(0.9).alias("p90")).iter_rows():
        out[wd, hr] = (mean, p10, p90)
    return out


def fit_family(params: dict[str, Any], data: pl.DataFrame, horizon_days: int, level: int) -> Any:
    """Fit one configuration on every neighbourhood of the dataset frame; a Family of :class:`Member`."""
    from shipml.apps.parking.backtest import whole_days
    from shipml.core.training import Family

    series = whole_days(series_of(data), GRID, regulated=True)  # a partial last day is never trained on
    h = horizon_days * GRID.slots_per_day
    holdout = Calibrated(str(params["model"])).fit(series, GRID)  # the last days: per-member figures
    model = holdout if isinstance(make(params), Calibrated) else make(params).fit(series, GRID)
    forecast = model.predict(h, level).sort(["unique_id", "ds"])
    spaces = dict(data.group_by("neighbourhood_id").agg(pl.col("spaces").max()).iter_rows())
    family = Family(params={**params, "horizon_days": horizon_days, "level": level})
    errors = holdout.errors
    for (uid,), group in series.group_by(["unique_id"], maintain_order=True):
        fc = forecast.filter(pl.col("unique_id") == uid)
        if fc.is_empty():
            continue
        nid, capacity = int(str(uid)), float(group["capacity"].max())  # type: ignore[arg-type]
        e = errors.filter(pl.col("unique_id") == uid)["e"].to_numpy()
        metrics = {"holdout_mae_share": float(np.mean(np.abs(e))) if len(e) else float("nan")}
        family.members[str(nid)] = Member(nid, capacity, int(spaces.get(nid, 0)), fc["ds"][0],
                                          fc["yhat"].to_numpy(), fc["lo"].to_numpy(), fc["hi"].to_numpy(),
                                          _profile(group), metrics)
        family.member_metrics[str(nid)] = metrics
    return family


def regulated(at: datetime) -> bool:
    return is_regulated(at)
