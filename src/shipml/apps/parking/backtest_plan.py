"""The backtest's plan, the same for every engine: the series cut to whole days, the origins, per origin the series
scored there with their truth over the horizon and their MASE scale, and the refusal when too little can be scored
(what each means: :mod:`shipml.apps.parking.backtest`)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from shipml.apps.parking.calendar import regulated_expr, regulated_window
from shipml.apps.parking.forecasters import MODELS, Forecaster
from shipml.apps.parking.series import Grid
from shipml.core.errors import InvalidInput

DEFAULT_MODELS = ("seasonal_naive", "mstl", "auto_ets", "prophet_original", "global_lightgbm")
DEFAULT_MIN_HISTORY_DAYS = 14
NAIVE_MIN_HISTORY_DAYS = 7  # the weekly naive needs one week; nothing shorter gives a MASE scale
NAIVE = "seasonal_naive"


class NotEnoughData(InvalidInput):
    """The data cannot give one full horizon per series: a refusal, never a figure."""


def parse_days(text: str | int | None, default: int) -> int:
    """``'14d'``, ``'2w'``, ``'10'`` (days) → days; ``None`` → ``default``."""
    if text is None or str(text).strip() == "":
        return default
    match = re.fullmatch(r"\s*(\d+)\s*(d|w|days?|weeks?)?\s*", str(text).lower())
    if not match:
        raise InvalidInput(f"--min-history must be days or weeks such as 14d or 2w, not {text!r}")
    days = int(match.group(1)) * (7 if (match.group(2) or "d").startswith("w") else 1)
    if days < NAIVE_MIN_HISTORY_DAYS:
        raise InvalidInput(f"--min-history must be at least {NAIVE_MIN_HISTORY_DAYS}d: the weekly seasonal naive "
                           "and the MASE scale need a week of history")
    return days


def default_min_history(models: Sequence[str]) -> int:
    """Two weeks; one when the weekly seasonal naive is the only model."""
    return NAIVE_MIN_HISTORY_DAYS if list(models) == [NAIVE] else DEFAULT_MIN_HISTORY_DAYS


def _day_complete(day_last: datetime, last: datetime, grid: Grid, regulated: bool) -> bool:
    """Whether the data, ending at ``last``, hold every scored slot of ``day_last``'s day."""
    if regulated:
        window = regulated_window(day_last.date())
        return window is None or last >= window[1] - timedelta(hours=1)
    return last.time() >= grid.slots[-1]


def whole_days(series: pl.DataFrame, grid: Grid, *, regulated: bool = False) -> pl.DataFrame:
    """The series cut at the end of their last complete day (see the module), padded to that day's last slot.

    With ``regulated`` a day is complete once its last regulated hour is in (a day without regulation is complete
    when reached); the slots after it are structurally 0 and padded as 0, unobserved (never scored). Otherwise a
    day is complete when its last grid slot is in.
    """
    if series.is_empty():
        return series
    last = series["ds"].max()
    assert isinstance(last, datetime)
    if not _day_complete(last, last, grid, regulated):
        last = datetime.combine(last.date() - timedelta(days=1), grid.slots[-1])
    end = datetime.combine(last.date(), grid.slots[-1])
    cut = series.filter(pl.col("ds") <= end)
    if not regulated or cut.is_empty():
        return cut
    tails = []
    for uid, series_last, capacity in cut.group_by("unique_id").agg(
            pl.col("ds").max(), pl.col("capacity").last()).iter_rows():
        pad = [t for t in grid.after(series_last, grid.slots_per_day) if t <= end] if series_last < end else []
        if pad:
            tails.append(pl.DataFrame({"unique_id": uid, "ds": pad, "y": 0.0, "observed": False,
                                       "capacity": capacity}).cast(dict(cut.schema)))  # type: ignore[arg-type]
    return pl.concat([cut, *tails]).sort(["unique_id", "ds"]) if tails else cut


def window_end(grid: Grid, origin: datetime, horizon: int) -> datetime:
    """The last of the ``horizon`` slots starting at ``origin`` (on the grid)."""
    return origin if horizon == 1 else grid.after(origin, horizon - 1)[-1]


def origins_of(series: pl.DataFrame, grid: Grid, days: int, horizon: int | None = None) -> list[datetime]:
    """The first slot of each of the last ``days`` days of the data whose ``horizon`` slots (default: one day)
    all lie in the data."""
    last = series["ds"].max()
    assert isinstance(last, datetime)
    h = horizon or grid.slots_per_day
    newest = datetime.combine(last.date(), grid.slots[0])
    while window_end(grid, newest, h) > last:
        newest -= timedelta(days=1)
    return [newest - timedelta(days=i) for i in range(days - 1, -1, -1)]


def mase_scale(history: pl.DataFrame, season: int, *, regulated: bool = False) -> pl.DataFrame:
    """Per series: mean |y_t − y_{t−season}| over observed pairs of the history (the MASE denominator); with
    ``regulated`` only over pairs whose t is a regulated hour, the same hours the errors are scored on."""
    lagged = history.sort(["unique_id", "ds"]).with_columns(
        prev=pl.col("y").shift(season).over("unique_id"), prev_obs=pl.col("observed").shift(season).over("unique_id"))
    ok = lagged.filter(pl.col("observed") & pl.col("prev_obs").fill_null(False))
    if regulated:
        ok = ok.filter(regulated_expr("ds"))
    return ok.group_by("unique_id").agg(scale=(pl.col("y") - pl.col("prev")).abs().mean())


def _scored_mask(frame: pl.DataFrame, regulated: bool) -> pl.Expr:
    return pl.col("observed") & regulated_expr("ds") if regulated else pl.col("observed")


def _windows(series: pl.DataFrame, grid: Grid, origins: list[datetime], horizon: int,
             min_history_days: int) -> list[tuple[datetime, list[str]]]:
    """Per origin, the series with ``min_history_days`` of history before it and something observed."""
    first = series.group_by("unique_id").agg(first=pl.col("ds").min(), obs=pl.col("observed").sum())
    out = []
    for origin in origins:
        need = datetime.combine(origin.date() - timedelta(days=min_history_days), grid.slots[0])
        keep = first.filter((pl.col("first") <= need) & (pl.col("obs") > 0))["unique_id"].sort().to_list()
        if keep:
            out.append((origin, keep))
    return out


def _refuse(series: pl.DataFrame, grid: Grid, horizon: int, min_history_days: int, possible: int, scorable: int,
            what: str) -> NotEnoughData:
    first, last = series["ds"].min(), series["ds"].max()
    assert isinstance(first, datetime) and isinstance(last, datetime)
    days = (last.date() - first.date()).days + 1
    h_days = horizon / grid.slots_per_day
    h_text = f"{h_days:g}-day" if h_days == int(h_days) else f"{horizon}-slot"
    most = days - math.ceil(h_days)
    advice = (f"use --min-history {most}d or fewer (at least {NAIVE_MIN_HISTORY_DAYS}d)"
              if most >= NAIVE_MIN_HISTORY_DAYS else
              f"bring at least {NAIVE_MIN_HISTORY_DAYS + math.ceil(h_days)} days of data")
    return NotEnoughData(
        f"{what} covers {days} days; with {min_history_days} days of history and a {h_text} horizon only "
        f"{scorable} points can be scored ({possible} full horizon(s) for {series['unique_id'].n_unique()} "
        f"series) — {advice}",
        details={"days": days, "min_history_days": min_history_days, "horizon": horizon, "points": scorable,
                 "windows": possible})


@dataclass(frozen=True)
class Window:
    """One origin: the series scored there (``keep``), their truth over the horizon and their MASE scale."""

    origin: datetime
    keep: tuple[str, ...]
    truth: pl.DataFrame
    scale: pl.DataFrame


@dataclass(frozen=True)
class Plan:
    """What every engine scores: the whole-day series and, per origin, the series, truths and scales."""

    series: pl.DataFrame
    grid: Grid
    horizon: int
    level: int
    regulated: bool
    min_days: int
    windows: tuple[Window, ...]

    @property
    def n_series(self) -> int:
        """Series scored at one origin at least."""
        return len({uid for w in self.windows for uid in w.keep})


def plan(series: pl.DataFrame, grid: Grid, *, horizon: int, origins: int = 14,
         models: Sequence[str] = DEFAULT_MODELS, regulated: bool = False, level: int = 80,
         factories: Mapping[str, Callable[[], Forecaster]] | None = None,
         min_history_days: int | None = None, what: str = "the data") -> Plan:
    """Whole days, origins, series per origin, truths and scales; raises :class:`NotEnoughData` (see the module)."""
    unknown = [m for m in models if m not in MODELS and m not in (factories or {})]
    if unknown:
        raise InvalidInput(f"unknown model {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    min_days = default_min_history(models) if min_history_days is None else min_history_days
    if min_days < NAIVE_MIN_HISTORY_DAYS:
        raise InvalidInput(f"min_history_days must be at least {NAIVE_MIN_HISTORY_DAYS}")
    series = whole_days(series, grid, regulated=regulated)
    if series.is_empty():
        raise NotEnoughData(f"{what} hold no complete day")
    full_scale = mase_scale(series, grid.weekly, regulated=regulated).rename({"scale": "full"})
    windows = []
    for origin, keep in _windows(series, grid, origins_of(series, grid, origins, horizon), horizon, min_days):
        history = series.filter(pl.col("ds") < origin, pl.col("unique_id").is_in(keep))
        scale = mase_scale(history, grid.weekly, regulated=regulated).join(
            full_scale, on="unique_id", how="right").select("unique_id", scale=pl.coalesce("scale", "full"))
        truth = series.filter(pl.col("ds").is_between(origin, window_end(grid, origin, horizon)),
                              pl.col("unique_id").is_in(keep))
        windows.append(Window(origin, tuple(keep), truth, scale))
    scorable = sum(w.truth.filter(_scored_mask(w.truth, regulated)).height for w in windows)
    possible = sum(len(w.keep) for w in windows)
    if possible < series["unique_id"].n_unique() or scorable == 0:
        raise _refuse(series, grid, horizon, min_days, possible, scorable, what)
    return Plan(series, grid, horizon, level, regulated, min_days, tuple(windows))
