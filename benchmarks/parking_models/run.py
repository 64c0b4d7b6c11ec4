"""Forecasters on real car-park data (Birmingham, 30 car parks, Oct–Dec 2016): MASE, ratio to the weekly seasonal
naive and to Prophet-as-the-original, MAE, 80 % interval coverage, fit time per series (one thread).

Protocol (``shipml.apps.parking.backtest``, the product's own eval): whole days only; 1-day-ahead (18 half-hour
slots, 08:00–16:30) rolling origins at the start of each of the last 14 days; a car park enters at an origin with
two weeks of history; every model refitted at every origin on the same history; scored only on observed readings
(filled gaps never scored); forecasts clipped to [0, capacity]; MASE scaled by each park's in-sample weekly
seasonal naive error on the same slots (mean over park × origin). Goals (issue 19): the chosen model's MASE
≤ 0.85 × the seasonal naive and ≤ 0.6 × Prophet-as-the-original; its 80 % interval covering 76–84 %.

    nice -n 10 .venv/bin/python benchmarks/parking_models/run.py [--origins 14] [--models a,b,...]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import SHARED, emit  # noqa: E402

NAME = "parking_models"
MODELS = ("seasonal_naive", "mstl", "prophet_original", "global_lightgbm", "direct_lightgbm")


def main() -> None:
    from shipml.apps.parking.backtest import evaluate_occupancy
    from shipml.apps.parking.sources import BIRMINGHAM_NAMES, BIRMINGHAM_OCCUPANCY

    parser = argparse.ArgumentParser()
    parser.add_argument("--origins", type=int, default=14)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = evaluate_occupancy(SHARED / BIRMINGHAM_OCCUPANCY, "SystemCodeNumber", "LastUpdated", "Capacity",
                              "Occupancy", names=list(BIRMINGHAM_NAMES), freq="30min", horizon="1d",
                              origins=args.origins, models=args.models.split(","))
    by_model = {r["model"]: r for r in rows}
    naive, prophet = by_model.get("seasonal_naive"), by_model.get("prophet_original")
    for r in rows:
        common = {"model": r["model"], "series": r["series"], "origins": r["origins"], "points": r["points"]}
        emit(NAME, f"birmingham {r['model']} MASE", r["mase"], "ratio", **common)
        emit(NAME, f"birmingham {r['model']} MAE", r["mae"], "spaces", **common)
        emit(NAME, f"birmingham {r['model']} 80% interval coverage", r["coverage"], "ratio", target="0.76-0.84",
             **common)
        emit(NAME, f"birmingham {r['model']} fit+forecast per series per origin", r["fit_seconds"] / r["series"],
             "s", **common)
        if naive:
            emit(NAME, f"birmingham {r['model']} MASE / seasonal naive", r["mase"] / naive["mase"], "ratio",
                 target="<= 0.85", **common)
        if prophet:
            emit(NAME, f"birmingham {r['model']} MASE / Prophet-as-the-original", r["mase"] / prophet["mase"],
                 "ratio", target="<= 0.6", **common)
    chosen = min(rows, key=lambda r: r["mase"])
    emit(NAME, "chosen by backtest", chosen["mase"], "ratio", model=chosen["model"])


if __name__ == "__main__":
    main()
