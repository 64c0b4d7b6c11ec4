"""A day-ahead LightGBM, a denoised last week, MSTL, a global LightGBM and a daily-level ETS, per slot their median,
with conformal intervals.

:class:`DirectLightGbm` sees each series as a matrix of days × slots (a day is the grid's slots), so every feature of
a day is known at its first slot — a direct forecast of the whole day, no recursion inside it (a horizon of more
than one day is forecast day by day on the days before). Features: the same slot 1, 7 and 14 days before, the
means of the day before, and of the days 7 and 8 before, the weekly trend (2·y₇ − y₁₄, y₇ − y₁₄), last week scaled
by yesterday's change (y₇ · m₁ / m₈), ``recent`` (below), the slot and the weekday. The target is divided by each
series' mean of its last 28 days (per-series scaling: one global model learns from every series); objective ``l1``
(the MAE the backtest scores); one thread per fit.

``recent`` (:func:`recent_weeks`) is the same slot 1–4 weeks before, each brought to the level of the last 7 days
(× the last 7 days' mean / that week's mean) and weighted 0.5 / 0.25 / 0.15 / 0.1: last week with the noise of
one odd day damped by three earlier weeks.

**The blend, chosen by backtest.** The last ``calibration_days`` whole days are held out once: a model fitted on
the days before forecasts each of them one day ahead (from the real days before it). The weight of the partner
(``recent``; ``partner="y7"``: the seasonal naive) in ``(1 − w)·LightGBM + w·partner`` is the one of ``WEIGHTS``
with the lowest mean error there in MASE units (one for every series, ``blend="pooled"``; or per series). The
model is then refitted on all the days.

**The median** (``combine="median"``, the default): per slot, the median of five forecasts whose errors differ —
the LightGBM alone; ``recent``; statsforecast's MSTL (daily and weekly seasons, on the last ``mstl_weeks``); the
mlforecast LightGBM across every series (:class:`~shipml.apps.parking.global_lightgbm.GlobalLightGbm`, other features
and target); and ``recent`` rescaled to the daily mean that AutoETS with a weekly season forecasts from the series'
daily means (:func:`daily_level`). A member without a value takes the LightGBM's; without MSTL (under two weeks of
history) the blend stands. A day after the first is forecast from the days before as forecast. ``combine="mix"``
is the model before: ``(1 − m)·blend + m·MSTL`` with ``m = mstl_weight``; ``"none"`` the blend alone. The median,
its members and the 6-week window were chosen on 45 validation origins (18 Oct – 5 Dec 2016, see
``benchmarks/README.md``); 6 weeks also bound MSTL's cost on years of tickets.

**Intervals**: split-conformal. The blend's errors on the held-out days (before the median with MSTL), divided by each
series' MASE scale (its weekly naive's mean error), give per slot of the week (weekday × slot) the quantiles of the
``level`` interval (pooled over every series; a slot of the week with fewer than ``MIN_PER_SLOT`` errors takes the
quantiles of its slot of the day, then of all). The interval is ``yhat + q · scale``.

Measured on Birmingham in ``benchmarks/README.md``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from shipml.apps.parking.global_lightgbm import GlobalLightGbm
from shipml.apps.parking.series import FORECAST_SCHEMA, Grid, fill_gaps

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # of the seasonal naive in the blend
MIN_PER_SLOT = 20
FEATURES = ("y1", "y7", "y14", "m1", "m7", "m8", "lin7", "r7", "g7", "slot", "weekday")
EXTENDED = (*FEATURES, "y21", "y28", "sw", "busy")
WITH_RECENT = (*FEATURES, "recent")
RECENT_WEIGHTS = (0.5, 0.25, 0.15, 0.1)  # of the same slot 1, 2, 3, 4 weeks before, in ``recent``


def _lag(a: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(a, np.nan)
    if k < a.shape[0]:
        out[k:] = a[:-k]
    return out


def day_features(y: np.ndarray, first: date) -> dict[str, np.ndarray]:
    """Features of every (day, slot) of a days × slots matrix (NaN where unknown), each from earlier days only."""
    days, slots = y.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN day has a NaN mean: that is the intent
        day_mean = np.nanmean(y, axis=1)[:, None] * np.ones((1, slots))
    f = {"y1": _lag(y, 1), "y7": _lag(y, 7), "y14": _lag(y, 14), "m1": _lag(day_mean, 1),
         "m7": _lag(day_mean, 7), "m8": _lag(day_mean, 8)}
    f["lin7"] = 2 * f["y7"] - f["y14"]
    f["r7"] = f["y7"] * (f["m1"] + 1e-3) / (f["m8"] + 1e-3)
    f["g7"] = f["y7"] - f["y14"]
    f["y21"], f["y28"] = _lag(y, 21), _lag(y, 28)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        f["sw"] = np.nanmean(np.stack([f["y7"], f["y14"], f["y21"], f["y28"]]), axis=0)
        usual = np.nanmean(np.stack([_lag(day_mean, k) for k in (8, 15, 22, 29)]), axis=0)
    f["busy"] = (f["m1"] + 1e-3) / (usual + 1e-3)
    f["recent"] = recent_weeks(y, day_mean[:, 0])
    f["slot"] = np.ones((days, 1)) * np.arange(slots)[None, :]
    weekday = np.array([(first + timedelta(days=i)).weekday() for i in range(days)], dtype=float)
    f["weekday"] = weekday[:, None] * np.ones((1, slots))
    return f


def recent_weeks(y: np.ndarray, day_mean: np.ndarray) -> np.ndarray:
    """The same slot 1–4 weeks before, each scaled to the level of the last 7 days (its week's mean → the last
    week's mean: the series' own growth since), weighted by ``RECENT_WEIGHTS`` (NaN-aware); NaN where none."""
    days = y.shape[0]
    known = np.isfinite(day_mean)
    sums = np.concatenate([[0.0], np.cumsum(np.where(known, day_mean, 0.0))])
    counts = np.concatenate([[0], np.cumsum(known)])
    start = np.maximum(np.arange(days) - 7, 0)
    n = counts[np.arange(days)] - counts[start]
    with np.errstate(invalid="ignore", divide="ignore"):  # the mean of the (known) days t − 7 … t − 1
        week = np.where(n > 0, (sums[np.arange(days)] - sums[start]) / np.maximum(n, 1), np.nan)
    total = np.zeros_like(y)
    weight = np.zeros_like(y)
    for k, w in enumerate(RECENT_WEIGHTS, start=1):
        then = _lag(week[:, None], 7 * (k - 1))[:, 0] if k > 1 else week  # the mean of the week of t − 7k
        part = _lag(y, 7 * k) * ((week + 1e-3) / (then + 1e-3))[:, None]
        ok = np.isfinite(part)
        total += np.where(ok, part, 0.0) * w
        weight += ok * w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / np.where(weight > 0, weight, 1.0), np.nan)


def daily_level(means: np.ndarray, days: int) -> np.ndarray:
    """The next ``days`` daily means: AutoETS with a weekly season (statsforecast) on two weeks or more of them,
    else the same weekday a week before (under a week: the mean of all)."""
    if days <= 0:
        return np.zeros(0)
    if len(means) < 14:
        if len(means) >= 7:
            return np.array([means[len(means) - 7 + k % 7] for k in range(days)], dtype=float)
        return np.full(days, float(np.mean(means)) if len(means) else np.nan)
    from statsforecast.models import AutoETS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(AutoETS(season_length=7).forecast(y=means.astype(float), h=days)["mean"], dtype=float)


def at_level(shape: np.ndarray, level: float, fallback: np.ndarray) -> np.ndarray:
    """``shape`` (one day's slots) rescaled to the daily mean ``level``; ``fallback`` where it has no value."""
    mean = float(np.nanmean(shape)) if np.isfinite(shape).any() else math.nan
    if not (math.isfinite(mean) and mean > 1e-6 and math.isfinite(level)):
        return np.where(np.isfinite(shape), shape, fallback)
    return np.where(np.isfinite(shape), shape * (level / mean), fallback)


@dataclass
class _Series:
    uid: str
    first: date
    y: np.ndarray  # days × slots, scaled, NaN where unknown
    observed: np.ndarray  # days × slots, bool
    scale: float  # the per-series scaling (mean of the last 28 days)
    mase_scale: float  # the weekly naive's mean error (interval unit)
    last: datetime


class DirectLightGbm:
    """See the module. ``blend``: ``"pooled"`` (one partner weight for every series, chosen on the held-out days),
    ``"series"`` (one per series) or ``"none"`` (the LightGBM alone; intervals still conformal). ``combine``:
    ``"median"`` (of the five members, see the module), ``"mix"`` (``mstl_weight`` of MSTL in the blend)
    or ``"none"``. The defaults (``features="recent"``, ``partner="recent"``, ``combine="median"``,
    ``mstl_weeks=6``) were chosen on validation origins; issue 19's second round was ``combine="mix"`` with
    ``mstl_weight=0.2``, the model before it ``features="base", partner="y7", combine="none"``."""

    name = "direct_lightgbm"

    def __init__(self, n_estimators: int = 300, learning_rate: float = 0.05, num_leaves: int = 31,
                 objective: str = "l1", seed: int = 0, blend: str = "pooled", calibration_days: int = 28,
                 history_weeks: int = 52, features: str = "recent", partner: str = "recent",
                 mstl_weight: float = 0.2, mstl_weeks: int = 6, combine: str = "median") -> None:
        if combine not in ("median", "mix", "none"):
            raise ValueError(f"combine must be median, mix or none, not {combine!r}")
        self.combine = combine
        self.blend, self.calibration_days, self.history_weeks = blend, calibration_days, history_weeks
        self.mstl_weight, self.mstl_weeks = mstl_weight, mstl_weeks
        self.features = {"extended": EXTENDED, "recent": WITH_RECENT}.get(features, FEATURES)
        self.partner = partner
        self.params: dict[str, Any] = {"n_estimators": n_estimators, "learning_rate": learning_rate,
                                       "num_leaves": num_leaves, "objective": objective, "random_state": seed,
                                       "num_threads": 1, "verbosity": -1}

    # -- data ----------------------------------------------------------------------------------------------------
    def _matrices(self, history: pl.DataFrame, grid: Grid) -> list[_Series]:
        index = {s: i for i, s in enumerate(grid.slots)}
        since = history["ds"].max() - timedelta(weeks=self.history_weeks)  # type: ignore[operator]
        out = []
        for (uid,), g in history.filter(pl.col("ds") > since).sort("ds").group_by(["unique_id"],
                                                                                  maintain_order=True):
            first, last = g["ds"].min(), g["ds"].max()
            assert isinstance(first, datetime) and isinstance(last, datetime)
            days = (last.date() - first.date()).days + 1
            y = np.full((days, grid.slots_per_day), np.nan)
            observed = np.zeros((days, grid.slots_per_day), dtype=bool)
            d = (g["ds"].dt.date() - first.date()).dt.total_days().to_numpy()
            k = g["ds"].dt.time().replace_strict(index, return_dtype=pl.Int64).to_numpy()
            y[d, k] = g["y"].to_numpy()
            observed[d, k] = g["observed"].to_numpy()
            w = grid.weekly
            flat = g["y"].to_numpy()
            obs = g["observed"].to_numpy()
            pairs = obs[w:] & obs[:-w] if len(flat) > w else np.zeros(0, dtype=bool)
            mase = float(np.mean(np.abs(flat[w:] - flat[:-w])[pairs])) if pairs.any() else 0.0
            tail = y[-28:]
            level = float(np.nanmean(tail)) if np.isfinite(tail).any() else 0.0
            capacity = float(g["capacity"].max())  # type: ignore[arg-type]
            scale = max(level, 1e-3 * max(capacity, 1.0))
            out.append(_Series(str(uid), first.date(), y / scale, observed, scale,
                               mase if mase > 0 else 0.05 * max(capacity, 1.0), last))
        return out

    def _rows(self, s: _Series, until: int) -> tuple[np.ndarray, np.ndarray]:
        """Training rows of the days before ``until`` (observed, with a value a week before)."""
        f = day_features(s.y[:until], s.first)
        x = np.stack([f[n].ravel() for n in self.features], axis=1)
        target = s.y[:until].ravel()
        ok = s.observed[:until].ravel() & np.isfinite(target) & np.isfinite(f["y7"].ravel())
        return x[ok], target[ok]

    def _train(self, series: list[_Series], until: list[int]) -> Any:
        import lightgbm as lgb

        parts = [self._rows(s, u) for s, u in zip(series, until, strict=True)]
        x = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        if len(y) < 50:
            return None
        return lgb.LGBMRegressor(**self.params).fit(x, y)

    def _day(self, model: Any, y: np.ndarray, first: date, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(LightGBM, partner, ``recent``) for one day of the matrix, from the days before it."""
        f = day_features(y[: day + 1], first)
        naive = f[self.partner][day]
        if model is None:
            return naive, naive, f["recent"][day]
        x = np.stack([f[n][day] for n in self.features], axis=1)
        return model.predict(x), naive, f["recent"][day]

    # -- the interface -------------------------------------------------------------------------------------------
    def fit(self, history: pl.DataFrame, grid: Grid) -> DirectLightGbm:
        self.grid, self.history = grid, history
        self.series = self._matrices(history, grid)
        days = [s.y.shape[0] for s in self.series]
        held = [max(n - self.calibration_days, 0) for n in days]
        early = self._train(self.series, held)
        errors: list[tuple[int, int, np.ndarray]] = []  # (weekday, slot) per error, and the error
        self.weights: dict[str, float] = {}
        held_out: dict[str, list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]] = {}
        for s, start in zip(self.series, held, strict=True):
            held_out[s.uid] = []
            for day in range(max(start, 14), s.y.shape[0]):
                model_day, naive_day, _ = self._day(early, s.y, s.first, day)
                ok = s.observed[day] & np.isfinite(s.y[day]) & np.isfinite(naive_day)
                held_out[s.uid].append((day, model_day, naive_day, ok))
        candidates = WEIGHTS if self.blend != "none" else (0.0,)

        def mae(w: float, series: list[_Series]) -> float:
            errs = [np.abs((1 - w) * m + w * n - s.y[d])[ok] * s.scale / s.mase_scale
                    for s in series for d, m, n, ok in held_out[s.uid]]
            flat = np.concatenate(errs) if errs else np.zeros(0)
            return float(flat.mean()) if flat.size else math.inf

        pooled = min(candidates, key=lambda w: mae(w, self.series))
        for s in self.series:
            self.weights[s.uid] = min(candidates, key=lambda w: mae(w, [s])) if self.blend == "series" else pooled
            w = self.weights[s.uid]
            for d, m, n, ok in held_out[s.uid]:
                e = (s.y[d] - ((1 - w) * m + w * n)) * s.scale / s.mase_scale
                weekday = (s.first + timedelta(days=d)).weekday()
                errors += [(weekday, int(k), np.asarray(e[k])) for k in np.flatnonzero(ok)]
        self.errors = pl.DataFrame(
            {"weekday": [e[0] for e in errors], "slot": [e[1] for e in errors],
             "e": [float(e[2]) for e in errors]},
            schema={"weekday": pl.Int64, "slot": pl.Int64, "e": pl.Float64})
        self.model = self._train(self.series, days)
        return self

    def _quantiles(self, level: int) -> dict[tuple[int, int], tuple[float, float]]:
        tail = (1 - level / 100) / 2
        out: dict[tuple[int, int], tuple[float, float]] = {}
        if self.errors.is_empty():
            return out
        overall = self.errors.select(lo=pl.col("e").quantile(tail), hi=pl.col("e").quantile(1 - tail)).row(0)
        by_slot = {r[0]: (r[1], r[2], r[3]) for r in self.errors.group_by("slot").agg(
            pl.col("e").quantile(tail), pl.col("e").quantile(1 - tail).alias("hi"), pl.len()).iter_rows()}
        by_week = {(r[0], r[1]): (r[2], r[3], r[4]) for r in self.errors.group_by("weekday", "slot").agg(
            pl.col("e").quantile(tail), pl.col("e").quantile(1 - tail).alias("hi"), pl.len()).iter_rows()}
        for weekday in range(7):
            for slot in range(self.grid.slots_per_day):
                lo, hi, n = by_week.get((weekday, slot), (0.0, 0.0, 0))
                if n < MIN_PER_SLOT:
                    lo, hi, n = by_slot.get(slot, (0.0, 0.0, 0))
                if n < MIN_PER_SLOT:
                    lo, hi = overall
                out[(weekday, slot)] = (float(lo), float(hi))
        return out

    def _mstl(self, s: _Series, h: int) -> np.ndarray | None:
        """MSTL (daily and weekly seasons) on the last ``mstl_weeks`` of the series, ``h`` slots after its end;
        None when it takes no part (``combine="mix"`` without a weight, ``"none"``) or with less than two weeks."""
        if self.combine == "none" or (self.combine == "mix" and self.mstl_weight <= 0):
            return None
        from statsforecast.models import MSTL

        per_day, weekly = self.grid.slots_per_day, self.grid.weekly
        end = (s.last.date() - s.first).days * per_day + self.grid.slots.index(s.last.time()) + 1
        flat = s.y.ravel()[:end][-self.mstl_weeks * weekly:]
        if len(flat) < 2 * weekly:
            return None
        if not np.isfinite(flat).all():
            flat = fill_gaps(flat, weekly, per_day)
        return np.asarray(MSTL(season_length=[per_day, weekly]).forecast(y=flat, h=h)["mean"])

    def _global(self, h: int) -> dict[str, np.ndarray]:
        """The median's fourth member: the mlforecast LightGBM across every series
        (:class:`~shipml.apps.parking.global_lightgbm.GlobalLightGbm`, no conformal step), ``h`` slots per series."""
        fc = GlobalLightGbm(conformal=False).fit(self.history, self.grid).predict(h)
        return {str(uid): g.sort("ds")["yhat"].to_numpy() for (uid,), g in fc.group_by(["unique_id"])}

    def _day_level(self, s: _Series, days: int) -> np.ndarray:
        """The series' daily means (its complete days) forecast ``days`` ahead by :func:`daily_level`."""
        full = s.last.time() == self.grid.slots[-1]
        complete = s.y[: (s.last.date() - s.first).days + (1 if full else 0)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nanmean(complete, axis=1) if complete.size else np.zeros(0)
        return daily_level(means[np.isfinite(means)], days)

    def predict(self, h: int, level: int = 80) -> pl.DataFrame:
        quantiles = self._quantiles(level)
        frames = []
        glob = self._global(h) if self.combine == "median" else {}
        for s in self.series:
            last_day = (s.last.date() - s.first).days
            full = s.last.time() == self.grid.slots[-1]
            extra = math.ceil(h / self.grid.slots_per_day) + 1
            y = np.vstack([s.y, np.full((extra, self.grid.slots_per_day), np.nan)])
            times = self.grid.after(s.last, h)
            rows = [((t.date() - s.first).days, self.grid.slots.index(t.time())) for t in times]
            mstl = self._mstl(s, h)
            mstl_days = np.full_like(y, np.nan)  # MSTL's forecast on the days × slots matrix (scaled)
            glob_days = np.full_like(y, np.nan)  # the global LightGBM's, likewise
            for member, days_matrix, scale in ((mstl, mstl_days, 1.0), (glob.get(s.uid), glob_days, s.scale)):
                if member is not None and len(member) == len(rows):
                    for (d, k), v in zip(rows, member, strict=True):
                        days_matrix[d, k] = v / scale
            w = self.weights.get(s.uid, 0.0)
            first_day = last_day + (1 if full else 0)
            levels = self._day_level(s, y.shape[0] - first_day) if self.combine == "median" else np.zeros(0)
            for day in range(first_day, y.shape[0]):
                model_day, naive_day, recent_day = self._day(self.model, y, s.first, day)
                naive_day = np.where(np.isfinite(naive_day), naive_day, model_day)
                value = (1 - w) * model_day + w * naive_day
                if self.combine == "median":  # without MSTL (under two weeks, past h) the blend stands
                    shaped = at_level(recent_day, levels[day - first_day], model_day)
                    members = [model_day, recent_day, mstl_days[day], glob_days[day], shaped]
                    members = [np.where(np.isfinite(m), m, model_day) for m in members]
                    value = np.where(np.isfinite(mstl_days[day]), np.median(np.stack(members), axis=0), value)
                unknown = ~np.isfinite(y[day])
                y[day, unknown] = value[unknown]  # the days after are forecast from this one
            yhat = np.array([y[d, k] for d, k in rows]) * s.scale
            if self.combine == "mix" and mstl is not None:
                yhat = (1 - self.mstl_weight) * yhat + self.mstl_weight * mstl * s.scale
            q = np.array([quantiles.get((t.weekday(), k), (0.0, 0.0)) for t, (_, k) in zip(times, rows,
                                                                                            strict=True)])
            lo = yhat + q[:, 0] * s.mase_scale if len(q) else yhat
            hi = yhat + q[:, 1] * s.mase_scale if len(q) else yhat
            frames.append(pl.DataFrame({"unique_id": s.uid, "ds": times, "yhat": yhat, "lo": lo, "hi": hi}))
        return pl.concat(frames).cast(FORECAST_SCHEMA).select(list(FORECAST_SCHEMA))  # type: ignore[arg-type]
