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

import math
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


OBSERVED = "observed"
FORECAST = "forecast"
PROFILE = "calendar profile"
PROFILE_DAYS = 366  # how far beyond the data the calendar profile answers; further is refused
JOIN_DAYS = 14.0  # the forecast's last week fades into the calendar profile with this time constant
PROFILE_WEEKS = 52  # the profile is the usual share of the last year


@dataclass
class Member:
    """One neighbourhood: what the data observed, the forecast from ``start``, and beyond it a calendar profile.

    - **observed** (``observed_start`` …): the occupied share the data counted, for every hour they hold;
    - **forecast**: occupied spaces (of ``capacity``) per hour from ``start``, with an interval;
    - **calendar profile** beyond the horizon: the mean and 10–90 % range of the occupied share by month kind
      (August or not: August afternoons are free and mornings differ), weekday and hour over the last year; it
      joins the forecast without a jump: the forecast's deviation from the profile at the same hour of its last
      week carries on and fades with a time constant of ``JOIN_DAYS``. Holidays and Sundays are not regulated,
      so they never get a number. Further than ``PROFILE_DAYS`` after the data, or before them, is refused.
    """

    neighbourhood_id: int
    capacity: float
    spaces: int
    start: datetime
    yhat: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    profile: np.ndarray  # (2: not August / August, 7 weekdays, 24 hours, 3: mean, p10, p90) of the occupied share
    metrics: dict[str, float] = field(default_factory=dict)
    observed_start: datetime | None = None
    observed: np.ndarray | None = None  # occupied share per hour from ``observed_start``

    @property
    def forecast_end(self) -> datetime:
        """The first hour after the forecast."""
        return self.start + timedelta(hours=len(self.yhat))

    def _forecast(self, i: int) -> tuple[float, float, float]:
        cap = max(self.capacity, 1.0)
        values = [float(np.clip(v / cap, 0.0, 1.0)) for v in (self.yhat[i], self.lo[i], self.hi[i])]
        return values[0], min(values[1:]), max(values[1:])

    def _profile_at(self, at: datetime) -> np.ndarray:
        profile = self.profile if self.profile.ndim == 4 else self.profile[None]
        kind = 1 if at.month == 8 and profile.shape[0] > 1 and profile[1].any() else 0
        return profile[kind, at.weekday(), at.hour]  # type: ignore[no-any-return]

    def occupied_share(self, at: datetime) -> tuple[float, float, float, str]:
        """(share, lo, hi, method) at a naive local time (the hour it falls in); ``method`` says which of the three
        answered, in words. Raises ``InvalidInput`` before the data or more than ``PROFILE_DAYS`` after them."""
        from shipml.core.errors import InvalidInput

        hour = at.replace(minute=0, second=0, microsecond=0)
        observed = getattr(self, "observed", None)
        first = getattr(self, "observed_start", None) or self.start
        if hour < first:
            raise InvalidInput(f"no data before {first:%Y-%m-%d %H:%M} for this neighbourhood: the ticket data "
                               "start there", details={"reason": "time_out_of_range"})
        if observed is not None:
            j = int((hour - first) // timedelta(hours=1))
            if 0 <= j < len(observed):
                v = float(np.clip(observed[j], 0.0, 1.0))
                return v, v, v, f"{OBSERVED}: counted from the ticket data (a past hour, not a forecast)"
        i = int((hour - self.start) // timedelta(hours=1))
        if 0 <= i < len(self.yhat):
            share, lo, hi = self._forecast(i)
            return share, lo, hi, FORECAST
        end = self.forecast_end
        if hour > end + timedelta(days=PROFILE_DAYS):
            raise InvalidInput(f"{hour:%Y-%m-%d} is more than {PROFILE_DAYS} days after the forecast ends "
                               f"({end:%Y-%m-%d}): too far for any estimate", details={"reason": "time_out_of_range"})
        mean, p10, p90 = (float(v) for v in self._profile_at(hour))
        weeks_back = max(1, math.ceil((hour - end + timedelta(hours=1)) / timedelta(weeks=1)))
        same = int((hour - timedelta(weeks=weeks_back) - self.start) // timedelta(hours=1))
        if 0 <= same < len(self.yhat):  # the forecast's deviation at the same hour of its last week, fading
            fade = math.exp(-((hour - end) / timedelta(days=1)) / JOIN_DAYS)
            ref_mean = float(self._profile_at(hour - timedelta(weeks=weeks_back))[0])
            shift = (self._forecast(same)[0] - ref_mean) * fade
            mean, p10, p90 = (float(np.clip(v + shift, 0.0, 1.0)) for v in (mean, p10, p90))
        month = "August" if hour.month == 8 else "non-August"
        return mean, p10, p90, (f"{PROFILE}: beyond the forecast horizon (it ends {end:%Y-%m-%d %H:00}), the usual "
                                f"share on a {month} {hour:%A} at {hour:%H}:00 over the last year, joined to the "
                                "forecast")


def _profile(history: pl.DataFrame) -> np.ndarray:
    """(2: not August / August, 7, 24, 3: mean, p10, p90) of the occupied share on regulated hours, last year."""
    since = history["ds"].max() - timedelta(weeks=PROFILE_WEEKS)  # type: ignore[operator]
    share = history.filter(regulated_expr("ds"), pl.col("ds") > since).select(
        aug=(pl.col("ds").dt.month() == 8).cast(pl.Int32), wd=pl.col("ds").dt.weekday() - 1,
        hr=pl.col("ds").dt.hour(), s=(pl.col("y") / pl.col("capacity").clip(lower_bound=1.0)).clip(0.0, 1.0))
    out = np.zeros((2, 7, 24, 3))
    for aug, wd, hr, mean, p10, p90 in share.group_by("aug", "wd", "hr").agg(
            pl.col("s").mean().alias("mean"), pl.col("s").quantile(0.1).alias("p10"),
            pl.col("s").quantile(0.9).alias("p90")).iter_rows():
        out[aug, wd, hr] = (mean, p10, p90)
    return out


def fit_family(params: dict[str, Any], data: pl.DataFrame, horizon_days: int, level: int) -> Any:
    """Fit one configuration on every neighbourhood of the dataset frame; a Family of :class:`Member`."""
    from shipml.apps.parking.backtest import whole_days
    from shipml.core.training import Family

    everything = series_of(data)
    series = whole_days(everything, GRID, regulated=True)  # a partial last day is never trained on
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
        seen = everything.filter(pl.col("unique_id") == uid)
        family.members[str(nid)] = Member(nid, capacity, int(spaces.get(nid, 0)), fc["ds"][0],
                                          fc["yhat"].to_numpy(), fc["lo"].to_numpy(), fc["hi"].to_numpy(),
                                          _profile(group), metrics, seen["ds"][0],
                                          (seen["y"] / max(capacity, 1.0)).to_numpy().astype(np.float32))
        family.member_metrics[str(nid)] = metrics
    return family


def regulated(at: datetime) -> bool:
    return is_regulated(at)
