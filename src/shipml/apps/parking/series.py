"""Regular series for the forecasters: one grid of time slots, gaps filled for fitting and flagged never to score.

A :class:`Grid` is the set of time-of-day slots a feed reports (all 24 hours for hourly ticket counts; 08:00 …
16:30 for Birmingham's car parks, which report by day only). Series live on that grid, so a day is
``slots_per_day`` steps and a week ``7 × slots_per_day``. Every row carries ``observed``: False where the value was
filled in (a gap, a dropped or stuck reading). Filled values help models fit; they are never scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
import polars as pl

from shipml.core.errors import InvalidInput

SERIES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
   "unique_id": pl.String, "ds": pl.Datetime("us"), "y": pl.Float64, "observed": pl.Boolean,
                 "capacity": pl.Float64}
FORECAST_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "unique_id": pl.String, "ds": pl.Datetime("us"), "yhat": pl.Float64, "lo": pl.Float64, "hi": pl.Float64}


@dataclass(frozen=True)
class Grid:
    """The time slots of one day (sorted ``time`` values) — the same every day."""

    slots: tuple[time, ...]

    @property
    def slots_per_day(self) -> int:
        return len(self.slots)

    @property
    def weekly(self) -> int:
        return 7 * len(self.slots)

    def times(self, first: date, last: date) -> list[datetime]:
        """Every slot from ``first`` to ``last`` inclusive."""
        days = (last - first).days + 1
        return [datetime.combine(first + timedelta(days=i), s) for i in range(days) for s in self.slots]

    def after(self, last: datetime, h: int) -> list[datetime]:
        """The ``h`` slots after ``last`` (which must be on the grid)."""
        out: list[datetime] = []
        day, idx = last.date(), self.slots.index(last.time()) + 1
        while len(out) < h:
            if idx == len(self.slots):
                day, idx = day + timedelta(days=1), 0
            out.append(datetime.combine(day, self.slots[idx]))
            idx += 1
        return out

    @classmethod
    def hourly(cls) -> Grid:
        return cls(tuple(time(h) for h in range(24)))

    @classmethod
    def from_times(cls, times: pl.Series, min_share: float = 0.5) -> Grid:
        """The slots that appear on at least ``min_share`` of the busiest slot's days."""
        frame = pl.DataFrame({"t": times}).drop_nulls().select(slot=pl.col("t").dt.time(), day=pl.col("t").dt.date())
        counts = frame.unique().group_by("slot").len()
        if counts.is_empty():
            raise InvalidInput("no timestamps to build a grid from")
        keep = counts.filter(pl.col("len") >= min_share * counts["len"].max())  # type: ignore[operator]
        return cls(tuple(sorted(keep["slot"].to_list())))


def fill_gaps(y: np.ndarray, weekly: int, daily: int) -> np.ndarray:
    """Missing values (NaN) ← the value a week earlier, else a day earlier, else the nearest earlier, else later."""
    out = y.astype(float).copy()
    for i in np.flatnonzero(np.isnan(out)):
        for lag in (weekly, daily):
            if i >= lag and not np.isnan(out[i - lag]):
                out[i] = out[i - lag]
                break
    if np.isnan(out).any():
        idx = np.where(~np.isnan(out), np.arange(len(out)), 0)
        np.maximum.accumulate(idx, out=idx)
        out = out[idx]
        if np.isnan(out).any():  # leading gap
            first = np.flatnonzero(~np.isnan(out))
            out[: first[0] if len(first) else len(out)] = out[first[0]] if len(first) else 0.0
    return out


def flat_runs(y: np.ndarray, observed: np.ndarray, min_length: int) -> np.ndarray:
    """True on observed values inside a run of ``min_length`` or more identical consecutive observed values."""
    flag = np.zeros(len(y), dtype=bool)
    idx = np.flatnonzero(observed)
    if len(idx) < min_length:
        return flag
    values = y[idx]
    change = np.concatenate([[True], values[1:] != values[:-1]])
    run_id = np.cumsum(change)
    lengths = np.bincount(run_id)
    flag[idx[lengths[run_id] >= min_length]] = True
    return flag


def regularise(readings: pl.DataFrame, grid: Grid, *, flat_days: float = 7.0) -> tuple[pl.DataFrame, dict[str, int]]:
    """Readings (``unique_id``, ``ds`` on the grid, ``y``, ``capacity``; one per id and slot) → complete series.

    Each series runs from its first reading to the last slot of any series. Returns the series
    (:data:`SERIES_SCHEMA`) and counts: ``filled_slots`` (gaps), ``flat_readings`` (stuck runs of ``flat_days`` or
    more, treated as gaps).
    """
    end = readings["ds"].max()
    if end is None:
        raise InvalidInput("no readings left to build series from")
    assert isinstance(end, datetime)
    frames, filled, flat = [], 0, 0
    min_run = max(2, int(round(flat_days * grid.slots_per_day)))
    for (uid,), group in readings.sort("ds").group_by(["unique_id"], maintain_order=True):
        first = group["ds"].min()
        assert isinstance(first, datetime)
        times = [t for t in grid.times(first.date(), end.date()) if first <= t <= end]
        frame = pl.DataFrame({"ds": times}, schema={"ds": pl.Datetime("us")}).join(
            group.select("ds", "y"), on="ds", how="left")
        y = frame["y"].to_numpy().astype(float)
        observed = ~np.isnan(y)
        stuck = flat_runs(y, observed, min_run)
        flat += int(stuck.sum())
        observed &= ~stuck
        y = np.where(observed, y, np.nan)
        filled += int((~observed).sum())
        capacity = float(group["capacity"].max())  # type: ignore[arg-type]
        frames.append(pl.DataFrame({"unique_id": str(uid), "ds": frame["ds"], "y": fill_gaps(y, grid.weekly,
                                    grid.slots_per_day), "observed": observed, "capacity": capacity},
                                   schema=SERIES_SCHEMA))
    return pl.concat(frames), {"filled_slots": filled, "flat_readings": flat}
