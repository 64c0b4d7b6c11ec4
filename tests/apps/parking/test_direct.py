"""The day-ahead LightGBM blended with the naive: the forecaster interface, several days ahead, conformal intervals
whose coverage the backtest reports; on deterministic series (no random numbers)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import polars as pl

from shipml.apps.parking.backtest import backtest
from shipml.apps.parking.direct import DirectLightGbm
from shipml.apps.parking.forecasters import FORECAST_SCHEMA
from shipml.apps.parking.series import Grid

GRID = Grid(tuple(time(8 + h) for h in range(9)))  # 08:00 … 16:00


def parks(days: int = 70) -> pl.DataFrame:
    """Three car parks of different sizes: a daily curve, busier weekends, a slow rise and a never-repeating
    wobble (week-apart differences of the same size everywhere)."""
    times = GRID.times(date(2024, 1, 1), date(2024, 1, 1) + timedelta(days=days - 1))
    t = np.arange(len(times), dtype=float)
    day = t // GRID.slots_per_day
    frames = []
    for k, (uid, capacity) in enumerate((("a", 200.0), ("b", 500.0), ("c", 900.0))):
        y = capacity * (0.35 + 0.2 * np.sin(np.pi * (t % GRID.slots_per_day) / GRID.slots_per_day)
                        + 0.1 * (day % 7 >= 5) + 0.001 * day + 0.04 * np.sin(t * np.sqrt(2) + k))
        frames.append(pl.DataFrame({"unique_id": uid, "ds": times, "y": y, "observed": True, "capacity": capacity}))
    return pl.concat(frames).cast({"ds": pl.Datetime("us")})


def test_it_forecasts_several_days_ahead_with_an_interval():
    series = parks()
    fc = DirectLightGbm(n_estimators=60).fit(series, GRID).predict(3 * GRID.slots_per_day)
    assert fc.schema == pl.Schema(FORECAST_SCHEMA)
    assert fc.height == 3 * 3 * GRID.slots_per_day
    assert fc["ds"].min() == datetime(2024, 3, 11, 8) and fc["ds"].max() == datetime(2024, 3, 13, 16)
    assert (fc["lo"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["hi"]).all()
    assert fc.filter(pl.col("unique_id") == "c")["yhat"].mean() > 3 * fc.filter(pl.col("unique_id") == "a")[
        "yhat"].mean()  # per-series scaling: one model, each park at its own level


def test_the_backtest_reports_its_coverage_and_it_is_no_worse_than_the_naive():
    rows = backtest(parks(), GRID, horizon=GRID.slots_per_day, origins=7, models=["seasonal_naive", "direct"],
                    factories={"direct": lambda: DirectLightGbm(n_estimators=60)})
    naive, direct = rows
    assert direct["points"] == naive["points"] == 3 * 7 * GRID.slots_per_day
    assert 0.0 <= direct["coverage"] <= 1.0 and direct["coverage"] > 0.5  # calibrated on held-out days
    assert direct["mase"] <= 1.05 * naive["mase"]  # the blend keeps the naive where the model is no better


def test_it_serves_the_ticket_data_as_a_lifecycle_candidate():
    from tests.apps.parking.test_hours import frame

    from shipml.apps.parking.model import fit_family

    family = fit_family({"model": "direct_lightgbm"}, frame(date(2024, 3, 4), datetime(2024, 5, 6)),
                        horizon_days=2, level=80)
    member = family.members["101"]
    assert member.start == datetime(2024, 5, 6) and len(member.yhat) == 48
    assert (member.lo <= member.yhat + 1e-9).all() and (member.yhat <= member.hi + 1e-9).all()
    share, lo, hi, method = member.occupied_share(datetime(2024, 5, 7, 11))
    assert method == "forecast" and lo <= share <= hi and 0.2 < share < 1.0


def test_recent_weeks_is_last_week_at_the_last_level_with_four_weeks_of_shape():
    from shipml.apps.parking.direct import RECENT_WEIGHTS, day_features

    days = 42
    shape = np.array([1.0, 2.0, 3.0, 2.0])
    level = 1.02 ** np.arange(days)  # every day 2 % busier than the day before
    y = level[:, None] * shape[None, :]
    recent = day_features(y, date(2024, 1, 1))["recent"]
    assert np.isnan(recent[:7]).all()
    # steady growth: each week before, brought to the last 7 days' level, is exactly last week
    np.testing.assert_allclose(recent[28:], y[21:-7], rtol=1e-3)
    # one odd day four weeks before moves the forecast by its weight only, not as last week's odd day would
    odd = y.copy()
    odd[10] *= 2.0
    moved = day_features(odd, date(2024, 1, 1))["recent"][38] / recent[38] - 1
    assert 0.5 * RECENT_WEIGHTS[3] < moved.mean() < 1.5 * RECENT_WEIGHTS[3]
    last_week = day_features(odd, date(2024, 1, 1))["recent"][17].mean() / recent[17].mean() - 1
    assert last_week > 0.3  # last week's odd day weighs most


def test_the_mstl_share_moves_the_forecast_toward_mstl_and_keeps_the_interval_around_it():
    from statsforecast.models import MSTL

    series = parks()
    alone = DirectLightGbm(n_estimators=60, combine="none").fit(series, GRID).predict(GRID.slots_per_day)
    mixed = DirectLightGbm(n_estimators=60, combine="mix", mstl_weight=0.25).fit(series, GRID).predict(
        GRID.slots_per_day)
    c = series.filter(pl.col("unique_id") == "c")["y"].to_numpy()
    mstl = MSTL(season_length=[GRID.slots_per_day, GRID.weekly]).forecast(y=c[-6 * GRID.weekly:],
                                                                        h=GRID.slots_per_day)["mean"]
    got = mixed.filter(pl.col("unique_id") == "c")["yhat"].to_numpy()
    want = 0.75 * alone.filter(pl.col("unique_id") == "c")["yhat"].to_numpy() + 0.25 * mstl
    np.testing.assert_allclose(got, want, rtol=1e-6)
    width = (alone["hi"] - alone["lo"]).to_numpy()
    np.testing.assert_allclose((mixed["hi"] - mixed["lo"]).to_numpy(), width, rtol=1e-9)


def test_less_than_two_weeks_is_forecast_without_mstl():
    short = parks(days=13)
    alone = DirectLightGbm(n_estimators=20, combine="none").fit(short, GRID).predict(GRID.slots_per_day)
    mixed = DirectLightGbm(n_estimators=20, combine="mix", mstl_weight=0.25).fit(short, GRID).predict(
        GRID.slots_per_day)
    assert alone.equals(mixed)


def test_daily_level_follows_a_weekly_pattern_and_falls_back_on_short_histories():
    from shipml.apps.parking.direct import daily_level

    week = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0])  # busy weekends
    np.testing.assert_allclose(daily_level(np.tile(week, 6), 7), week, atol=0.05)
    np.testing.assert_allclose(daily_level(np.arange(10.0), 3), [3.0, 4.0, 5.0])  # under two weeks: a week before
    np.testing.assert_allclose(daily_level(np.array([1.0, 2.0, 3.0]), 2), [2.0, 2.0])  # under a week: the mean
    assert daily_level(np.arange(10.0), 0).size == 0


def test_at_level_rescales_the_shape_and_keeps_the_fallback_where_it_is_unknown():
    from shipml.apps.parking.direct import at_level

    got = at_level(np.array([1.0, 3.0, np.nan]), 4.0, np.array([9.0, 9.0, 9.0]))
    np.testing.assert_allclose(got, [2.0, 6.0, 9.0])
    np.testing.assert_allclose(at_level(np.full(3, np.nan), 4.0, np.ones(3)), np.ones(3))


def test_the_default_is_per_slot_the_median_of_five_forecasts():
    from statsforecast.models import MSTL

    from shipml.apps.parking.direct import daily_level, day_features
    from shipml.apps.parking.forecasters import GlobalLightGbm

    series = parks()
    model = DirectLightGbm(n_estimators=60).fit(series, GRID)
    median = model.predict(GRID.slots_per_day)
    weights = model.weights
    model.weights, model.combine = {}, "none"
    alone = model.predict(GRID.slots_per_day).filter(pl.col("unique_id") == "c")["yhat"].to_numpy()
    model.weights = weights
    blend = model.predict(GRID.slots_per_day)
    c = series.filter(pl.col("unique_id") == "c")["y"].to_numpy()
    mstl = MSTL(season_length=[GRID.slots_per_day, GRID.weekly]).forecast(y=c[-6 * GRID.weekly:],
                                                                        h=GRID.slots_per_day)["mean"]
    days = np.vstack([c.reshape(-1, GRID.slots_per_day), np.full((1, GRID.slots_per_day), np.nan)])
    recent = day_features(days, date(2024, 1, 1))["recent"][-1]
    shaped = recent * daily_level(days[:-1].mean(axis=1), 1)[0] / recent.mean()
    everyone = GlobalLightGbm(conformal=False).fit(series, GRID).predict(GRID.slots_per_day)
    glob = everyone.filter(pl.col("unique_id") == "c").sort("ds")["yhat"].to_numpy()
    want = np.median(np.stack([alone, recent, mstl, glob, shaped]), axis=0)
    np.testing.assert_allclose(median.filter(pl.col("unique_id") == "c")["yhat"].to_numpy(), want, rtol=1e-4)
    # the interval keeps the blend's width, around the median
    np.testing.assert_allclose((median["hi"] - median["lo"]).to_numpy(), (blend["hi"] - blend["lo"]).to_numpy(),
                               rtol=1e-9)


def test_the_median_forecasts_several_days_and_without_two_weeks_falls_back_on_the_blend():
    short = parks(days=13)
    blend = DirectLightGbm(n_estimators=20, combine="none").fit(short, GRID).predict(GRID.slots_per_day)
    median = DirectLightGbm(n_estimators=20).fit(short, GRID).predict(GRID.slots_per_day)
    assert blend.equals(median)
    fc = DirectLightGbm(n_estimators=60).fit(parks(), GRID).predict(3 * GRID.slots_per_day)
    assert fc.height == 3 * 3 * GRID.slots_per_day and fc["yhat"].is_finite().all()
    assert (fc["lo"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["hi"]).all()


def test_an_unknown_combination_is_refused():
    import pytest

    with pytest.raises(ValueError, match="combine"):
        DirectLightGbm(combine="mean")
