"""What the backtest measures: whole days only, MASE scaled on the scored hours, points and origins in every row,
and a refusal (exit code 2, with the reason and the way out) instead of a figure from too little data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta

import numpy as np
import polars as pl
import pytest

from shipml.apps.parking.backtest import (
    NotEnoughData,
    backtest,
    evaluate_occupancy,
    mase_scale,
    parse_days,
    whole_days,
)
from shipml.apps.parking.calendar import regulated_mask
from shipml.apps.parking.series import Grid
from shipml.core.errors import InvalidInput

GRID = Grid(tuple(time(8 + h) for h in range(8)))  # 08:00 … 15:00


def quasi_periodic(grid: Grid, first: date, days: int, *, regulated: bool = False, uid: str = "a") -> pl.DataFrame:
    """A weekly pattern plus a deterministic, never-repeating wobble (no random numbers): the week-apart
    differences have the same distribution everywhere, so the seasonal naive's MASE is about 1 out of sample."""
    times = grid.times(first, first + timedelta(days=days - 1))
    t = np.arange(len(times), dtype=float)
    y = 40 + 15 * np.sin(2 * np.pi * t / grid.slots_per_day) + 10 * np.sin(t * np.sqrt(2)) + 7 * np.sin(t / np.e)
    if regulated:
        y = np.where(regulated_mask(times), y, 0.0)
    return pl.DataFrame({"unique_id": uid, "ds": times, "y": y, "observed": True, "capacity": 100.0}).cast(
        {"ds": pl.Datetime("us")})


def test_the_seasonal_naive_scores_about_one_on_regulated_hours():
    """Tickets: zero outside regulated hours. The scale counts the same hours as the errors, so the naive
    against its own history is about 1.0 (it was ~2.3 when the structural zeros diluted the scale)."""
    series = quasi_periodic(Grid.hourly(), date(2024, 1, 8), 8 * 7, regulated=True)
    row = backtest(series, Grid.hourly(), horizon=24, origins=14, models=["seasonal_naive"], regulated=True)[0]
    assert 0.9 < row["mase"] < 1.1
    scale_all = mase_scale(series, 168)["scale"].item()
    scale_paid = mase_scale(series, 168, regulated=True)["scale"].item()
    assert scale_paid > 2 * scale_all  # the structural zeros were more than half the pairs


def test_the_seasonal_naive_scores_about_one_on_every_slot_of_a_car_park():
    series = quasi_periodic(GRID, date(2024, 1, 1), 8 * 7)
    row = backtest(series, GRID, horizon=GRID.slots_per_day, origins=14, models=["seasonal_naive"])[0]
    assert 0.9 < row["mase"] < 1.1
    assert row["points"] == 14 * GRID.slots_per_day and row["origins"] == 14 and row["series"] == 1


def test_a_partial_last_day_is_never_a_holdout():
    full = quasi_periodic(GRID, date(2024, 1, 1), 30)
    partial = full.filter(pl.col("ds") < datetime(2024, 1, 30, 11))  # the last day stops at 10:00
    cut = whole_days(partial, GRID)
    assert cut["ds"].max() == datetime(2024, 1, 29, 15)
    row = backtest(partial, GRID, horizon=GRID.slots_per_day, origins=1, models=["seasonal_naive"])[0]
    assert row["points"] == GRID.slots_per_day  # one whole day: 29 January, not the three slots of the 30th
    reference = backtest(full.filter(pl.col("ds") < datetime(2024, 1, 30)), GRID, horizon=GRID.slots_per_day,
                         origins=1, models=["seasonal_naive"])[0]
    assert row["mase"] == pytest.approx(reference["mase"])


def test_a_ticket_day_with_only_carry_over_hours_is_dropped_and_a_whole_day_padded():
    grid = Grid.hourly()
    series = quasi_periodic(grid, date(2024, 3, 4), 22, regulated=True)  # to Monday 25 March 23:00
    carry_over = series.filter(pl.col("ds") < datetime(2024, 3, 25, 11))  # Monday: 09–10 h only
    assert whole_days(carry_over, grid, regulated=True)["ds"].max() == datetime(2024, 3, 24, 23)
    evening_cut = series.filter(pl.col("ds") < datetime(2024, 3, 22, 21))  # Friday up to its last paid hour
    cut = whole_days(evening_cut, grid, regulated=True)
    assert cut["ds"].max() == datetime(2024, 3, 22, 23)  # padded to the day's end, never scored
    assert not cut.filter(pl.col("ds") >= datetime(2024, 3, 22, 21))["observed"].any()


def test_too_little_data_is_a_refusal_not_a_figure():
    series = quasi_periodic(GRID, date(2024, 1, 1), 14)
    with pytest.raises(NotEnoughData, match=r"covers 14 days; with 14 days of history and a 1-day horizon only "
                                            r"0 points can be scored .* use --min-history 13d or fewer"):
        backtest(series, GRID, horizon=GRID.slots_per_day, origins=14, models=["seasonal_naive", "mstl"])
    rows = backtest(series, GRID, horizon=GRID.slots_per_day, origins=14, models=["seasonal_naive"])
    assert rows[0]["origins"] == 7 and rows[0]["points"] == 7 * GRID.slots_per_day  # a week for the naive alone
    assert rows[0]["min_history_days"] == 7


def test_min_history_is_days_or_weeks_and_never_less_than_a_week():
    assert parse_days("2w", 14) == 14 and parse_days("10d", 14) == 10 and parse_days(None, 7) == 7
    with pytest.raises(InvalidInput, match="at least 7d"):
        parse_days("3d", 14)
    with pytest.raises(InvalidInput, match="14d or 2w"):
        parse_days("two weeks", 14)


def _write_feed(path, days: int, freq_minutes: int = 15) -> None:
    grid = Grid(tuple(time(h, m) for h in range(8, 18) for m in range(0, 60, freq_minutes)))
    frames = [quasi_periodic(grid, date(2024, 1, 1), days, uid=uid) for uid in ("p1", "p2")]
    lines = ["park,when,occupied,capacity"] + [f"{r['unique_id']},{r['ds']:%Y-%m-%d %H:%M},{r['y']:.0f},100"
                                               for r in pl.concat(frames).iter_rows(named=True)]
    path.write_text("\n".join(lines) + "\n")


def _eval(path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shipml.cli", "eval", "parking", "--occupancy", str(path), "--id-col", "park",
         "--time-col", "when", "--capacity-col", "capacity", "--occupied-col", "occupied", "--freq", "15min",
         "--horizon", "1d", "--json", *extra],
        capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "300"})


def test_the_cli_refuses_two_weeks_with_two_weeks_of_history(platform, tmp_path):
    feed = tmp_path / "two_weeks.csv"
    _write_feed(feed, 14)
    run = _eval(feed, "--models", "seasonal_naive,auto_ets")
    assert run.returncode == 2, run.stdout + run.stderr
    said = " ".join((run.stdout + run.stderr).split())
    assert "this file covers 14 days; with 14 days of history and a 1-day horizon only 0 points can be scored" in said
    assert "use --min-history 13d" in said
    assert not [line for line in run.stdout.splitlines() if line.startswith("{")]  # no figure at all


def test_the_cli_reports_points_and_origins_in_every_row(platform, tmp_path):
    feed = tmp_path / "three_weeks.csv"
    _write_feed(feed, 21)
    run = _eval(feed, "--models", "seasonal_naive", "--min-history", "2w")
    assert run.returncode == 0, run.stdout + run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert rows[0]["origins"] == 7 and rows[0]["points"] == 2 * 7 * 40 and rows[0]["min_history_days"] == 14
    assert {"coverage", "series"} <= set(rows[0])


def test_evaluate_occupancy_takes_min_history(tmp_path):
    feed = tmp_path / "feed.csv"
    _write_feed(feed, 16, freq_minutes=60)
    with pytest.raises(NotEnoughData):
        evaluate_occupancy(feed, "park", "when", "capacity", "occupied", freq="1h", models=["seasonal_naive"],
                           min_history="16d")
    rows = evaluate_occupancy(feed, "park", "when", "capacity", "occupied", freq="1h", models=["seasonal_naive"],
                              min_history="1w")
    assert rows[0]["origins"] == 9 and rows[0]["series"] == 2


def ticket_frame(first: date, end: datetime) -> pl.DataFrame:
    """The ingest's hourly dataset shape for two neighbourhoods, ending at ``end`` (exclusive)."""
    series = quasi_periodic(Grid.hourly(), first, (end.date() - first).days + 1, regulated=True)
    series = series.filter(pl.col("ds") < end)
    frames = [series.select(neighbourhood_id=pl.lit(nid, pl.Int32), hour="ds",
                            hour_utc=pl.col("ds").dt.replace_time_zone("UTC"),
                            active=pl.col("y").round(0).cast(pl.Int64), spaces=pl.lit(100, pl.Int64),
                            capacity=pl.lit(100.0)) for nid in (101, 102)]
    return pl.concat(frames)


def test_the_served_forecast_is_trained_on_whole_days_only():
    from shipml.apps.parking.model import fit_family

    frame = ticket_frame(date(2024, 2, 5), datetime(2024, 2, 26, 11))  # Monday 26th: carry-over 09–10 h only
    family = fit_family({"model": "seasonal_naive"}, frame, horizon_days=2, level=80)
    member = family.members["101"]
    assert member.start == datetime(2024, 2, 26, 0)  # the forecast starts where the last whole day ends
    assert len(member.yhat) == 48
