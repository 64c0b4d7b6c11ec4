"""Train every neighbourhood on a simulated four years of hourly tickets: the chosen path (one global LightGBM
across all series, calibrated interval, as `fit_family` does) vs the original's loop of one Prophet per series, in
the same run. Goal: ≥ 10× faster.

Prophet on ~35,000 hourly points per series takes long; it is timed on a sample of ``PROPHET_SAMPLE`` series and
extrapolated linearly to all of them (each series is an independent fit, so the loop is linear) — said in the
figure's text.

    .venv/bin/python benchmarks/parking_train/run.py [--weeks 208] [--prophet-sample 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import emit  # noqa: E402

NAME = "parking_train"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weeks", type=int, default=208)
    parser.add_argument("--prophet-sample", type=int, default=3)
    args = parser.parse_args()
    from shipml.apps.parking import ingest
    from shipml.apps.parking.forecasters import ProphetOriginal
    from shipml.apps.parking.model import GRID, fit_family, series_of

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        folder = ingest.simulate(Path(tmp), weeks=args.weeks, last=date(2024, 12, 31) - timedelta(days=0),
                                 scale=0.01)
        frame, report, _ = ingest.occupancy(folder)
        emit(NAME, f"simulate and ingest {args.weeks} weeks of SYNTHETIC tickets ({report['rows_kept']:,} tickets, "
             f"{frame.height:,} neighbourhood-hours)", time.perf_counter() - started, "s")
    series = series_of(frame)
    n = series["unique_id"].n_unique()
    started = time.perf_counter()
    family = fit_family({"model": "global_lightgbm", "calibrate": True}, frame, horizon_days=7, level=80)
    chosen = time.perf_counter() - started
    emit(NAME, f"chosen path: global LightGBM, calibrated interval (2 fits), 7-day forecast, {len(family)} series",
         chosen, "s")
    sample = sorted(series["unique_id"].unique().to_list())[: args.prophet_sample]
    started = time.perf_counter()
    ProphetOriginal().fit(series.filter(pl.col("unique_id").is_in(sample)), GRID).predict(7 * 24)
    per_series = (time.perf_counter() - started) / len(sample)
    emit(NAME, f"original's Prophet loop, extrapolated to {n} series from {len(sample)} timed", per_series * n, "s",
         timed_series=len(sample), seconds_per_series=round(per_series, 2))
    emit(NAME, "speed-up of the chosen path over the Prophet loop", per_series * n / chosen, "x")


if __name__ == "__main__":
    main()
