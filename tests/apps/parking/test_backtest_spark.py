"""The backtest's Spark engine (local[2]) gives the embedded engine's rows: the same MASE, MAE, coverage, points,
origins and series (only ``fit_seconds`` differs), for per-series models fanned out per (series, origin), a global
model per origin, and the lifecycle's calibrated configurations on regulated ticket hours; a refusal is made before
any Spark job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, time, timedelta

import numpy as np
import polars as pl
import pytest

from shipml.apps.parking.backtest import NotEnoughData, backtest, plan
from shipml.apps.parking.calendar import regulated_mask
from shipml.apps.parking.series import Grid
from shipml.apps.parking.spark import backtest_tasks
from shipml.core.errors import InvalidInput
from shipml.settings import get_settings

pytestmark = pytest.mark.spark

GRID = Grid(tuple(time(8 + h) for h in range(8)))  # 08:00 … 15:00
LOCAL_2 = "local[2]"


def wobbly(grid: Grid, first: date, days: int, uid: str, phase: float, *, regulated: bool = False) -> pl.DataFrame:
    """A daily and weekly pattern with a deterministic, never-repeating wobble (no random numbers), per series."""
    times = grid.times(first, first + timedelta(days=days - 1))
    t = np.arange(len(times), dtype=float) + phase
    y = (40 + 15 * np.sin(2 * np.pi * t / grid.slots_per_day) + 8 * np.sin(2 * np.pi * t / grid.weekly)
         + 10 * np.sin(t * np.sqrt(2)) + 7 * np.sin(t / np.e))
    if regulated:
        y = np.where(regulated_mask(times), y, 0.0)
    return pl.DataFrame({"unique_id": uid, "ds": times, "y": y, "observed": True, "capacity": 100.0}).cast(
        {"ds": pl.Datetime("us")})


def car_parks() -> pl.DataFrame:
    """Three car parks over five weeks; ``c`` starts 17 days late, so it enters at the later origins only, and
    one reading of ``b`` is missing (filled, never scored)."""
    frames = [wobbly(GRID, date(2024, 1, 1), 35, "a", 0.0), wobbly(GRID, date(2024, 1, 1), 35, "b", 3.3),
              wobbly(GRID, date(2024, 1, 18), 18, "c", 7.1)]
    series = pl.concat(frames)
    return series.with_columns(observed=~((pl.col("unique_id") == "b") & (pl.col("ds") == pl.datetime(2024, 2, 1, 9))))


@pytest.fixture
def local_2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Spark on two local cores (the process's session is restarted when the settings change)."""
    monkeypatch.setenv("SHIPML_SPARK_MASTER", LOCAL_2)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _without_seconds(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in row.items() if k != "fit_seconds"} for row in rows]


def test_spark_gives_the_embedded_rows_per_series_and_global_models(local_2):
    models = ["seasonal_naive", "mstl", "global_lightgbm"]
    series = car_parks()
    embedded = backtest(series, GRID, horizon=GRID.slots_per_day, origins=7, models=models)
    on_spark = backtest(series, GRID, horizon=GRID.slots_per_day, origins=7, models=models, engine="spark")
    assert _without_seconds(on_spark) == _without_seconds(embedded)
    assert [r["series"] for r in on_spark] == [3, 3, 3] and {r["origins"] for r in on_spark} == {7}
    assert all(r["points"] > 0 and r["fit_seconds"] > 0 for r in on_spark)

    p = plan(series, GRID, horizon=GRID.slots_per_day, origins=7, models=models)
    tasks = backtest_tasks(p, models)
    fits = sum(len(w.keep) for w in p.windows)  # c enters late: fewer than 3 × 7
    assert 2 * 7 < fits < 3 * 7
    assert sum(1 for m, _, uid in tasks if m == "global_lightgbm" and uid is None) == 7  # all series at once
    assert sum(1 for m, _, uid in tasks if m == "mstl" and uid is not None) == fits  # one series at a time


def test_spark_gives_the_embedded_rows_for_the_lifecycles_calibrated_configs(local_2):
    """The lifecycle's factories (a calibrated seasonal naive pools its errors across series: one task per
    origin; MSTL: per series) on regulated hours, as ``shipml train parking`` scores them."""
    from shipml.apps.parking.model import make

    grid = Grid.hourly()
    series = pl.concat([wobbly(grid, date(2024, 3, 4), 28, uid, phase, regulated=True)
                        for uid, phase in (("101", 0.0), ("102", 5.5))])
    configs = {"seasonal_naive": {"model": "seasonal_naive", "calibrate": True}, "mstl": {"model": "mstl"}}
    factories = {name: (lambda params=params: make(params)) for name, params in configs.items()}
    options = {"horizon": 24, "origins": 3, "models": list(configs), "regulated": True, "factories": factories,
               "min_history_days": 14, "what": "the ticket data"}
    embedded = backtest(series, grid, **options)  # type: ignore[arg-type]
    on_spark = backtest(series, grid, engine="spark", **options)  # type: ignore[arg-type]
    assert _without_seconds(on_spark) == _without_seconds(embedded)
    tasks = backtest_tasks(plan(series, grid, **options), list(configs), factories)  # type: ignore[arg-type]
    assert sorted((m, uid is None) for m, _, uid in tasks).count(("seasonal_naive", True)) == 3


def test_a_refusal_or_an_unknown_engine_starts_no_spark_job():
    two_weeks = car_parks().filter(pl.col("ds") < pl.datetime(2024, 1, 15))
    with pytest.raises(NotEnoughData, match="use --min-history"):
        backtest(two_weeks, GRID, horizon=GRID.slots_per_day, models=["seasonal_naive", "mstl"], engine="spark")
    with pytest.raises(InvalidInput, match="choose from embedded, spark"):
        backtest(car_parks(), GRID, horizon=GRID.slots_per_day, models=["seasonal_naive"], engine="ray")


def test_the_cli_takes_the_engine(platform, tmp_path):
    feed = tmp_path / "car_parks.csv"
    lines = ["park,when,occupied,capacity"] + [f"{r['unique_id']},{r['ds']:%Y-%m-%d %H:%M},{r['y']:.0f},100"
                                               for r in car_parks().iter_rows(named=True)]
    feed.write_text("\n".join(lines) + "\n")

    def run(*engine: str) -> list[dict[str, object]]:
        done = subprocess.run(
            [sys.executable, "-m", "shipml.cli", "eval", "parking", "--occupancy", str(feed), "--id-col", "park",
             "--time-col", "when", "--capacity-col", "capacity", "--occupied-col", "occupied", "--freq", "1h",
             "--horizon", "1d", "--origins", "5", "--models", "seasonal_naive", "--json", *engine],
            capture_output=True, text=True, timeout=600,
            env={**os.environ, "COLUMNS": "300", "SHIPML_SPARK_MASTER": LOCAL_2})
        assert done.returncode == 0, done.stdout + done.stderr
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]

    on_spark = run("--engine", "spark")
    assert _without_seconds(on_spark) == _without_seconds(run())
    assert on_spark[0]["origins"] == 5 and on_spark[0]["series"] == 3


def test_the_engine_follows_the_parking_engine_setting_unless_given(monkeypatch):
    from shipml.apps.parking.tasks import backtest_engine

    monkeypatch.delenv("SHIPML_PARKING_ENGINE", raising=False)
    assert backtest_engine() == "embedded" and backtest_engine("spark") == "spark"
    monkeypatch.setenv("SHIPML_PARKING_ENGINE", "spark")  # the ingest counts tickets on Spark: so does the backtest
    assert backtest_engine() == "spark" and backtest_engine("embedded") == "embedded"
