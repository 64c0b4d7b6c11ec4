"""Forecasters on real car-park data (Birmingham, 30 car parks, Oct–Dec 2016): MASE, MAE, fit time, coverage.

Protocol (``shipml.apps.parking.backtest``): 1-day-ahead (18 half-hour slots, 08:00–16:30) rolling origins at the
start of each of the last 14 days; every model refitted at every origin on the same history; scored only on
observed readings (filled gaps never scored); forecasts clipped to [0, capacity]; MASE scaled by the weekly
seasonal naive's in-sample error. The chosen model is the lowest MASE; the target is MASE <= 0.7 x Prophet as the
original and below the weekly seasonal naive, on the same origins.

    .venv/bin/python benchmarks/parking_models/run.py [--origins 14] [--models a,b,...]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import SHARED, emit  # noqa: E402

NAME = "parking_models"


def main() -> None:
    from shipml.apps.parking.backtest import DEFAULT_MODELS, evaluate_occupancy
    from shipml.apps.parking.sources import BIRMINGHAM_NAMES, BIRMINGHAM_OCCUPANCY

    parser = argparse.ArgumentParser()
    parser.add_argument("--origins", type=int, default=14)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = evaluate_occupancy(SHARED / BIRMINGHAM_OCCUPANCY, "SystemCodeNumber", "LastUpdated", "Capacity",
                              "Occupancy", names=list(BIRMINGHAM_NAMES), freq="30min", horizon="1d",
                              origins=args.origins, models=args.models.split(","))
    by_model = {r["model"]: r for r in rows}
    for r in rows:
        common = {"model": r["model"], "series": r["series"], "origins": r["origins"], "points": r["points"]}
        emit(NAME, f"birmingham {r['model']} MASE", r["mase"], "ratio", **common)
        emit(NAME, f"birmingham {r['model']} MAE", r["mae"], "spaces", **common)
        emit(NAME, f"birmingham {r['model']} fit+forecast of all series per origin", r["fit_seconds"], "s", **common)
        emit(NAME, f"birmingham {r['model']} 80% interval coverage", r["coverage"], "ratio", **common)
    chosen = min(rows, key=lambda r: r["mase"])
    emit(NAME, "chosen by backtest", chosen["mase"], "ratio", model=chosen["model"])
    if "prophet_original" in by_model:
        prophet = by_model["prophet_original"]
        emit(NAME, "chosen MASE / Prophet-as-the-original MASE", chosen["mase"] / prophet["mase"], "ratio",
             model=chosen["model"], target="<= 0.7")
        emit(NAME, "Prophet fit time / chosen fit time", prophet["fit_seconds"] / chosen["fit_seconds"], "x",
             model=chosen["model"])
    if "seasonal_naive" in by_model:
        emit(NAME, "chosen MASE / weekly seasonal naive MASE", chosen["mase"] / by_model["seasonal_naive"]["mase"],
             "ratio", model=chosen["model"], target="< 1")


if __name__ == "__main__":
    main()
