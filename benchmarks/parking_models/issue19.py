"""Issue 19 experiments: candidate forecasters scored by the product's own backtest on two sets of origins of
Birmingham — *validation* (the 14 days before 6 Dec 2016: data cut at the end of 5 Dec, origins 22 Nov – 5 Dec)
and *scored* (the product's eval: origins 6–19 Dec). A configuration is chosen on validation only.

    nice -n 19 .venv/bin/python benchmarks/parking_models/issue19.py --set validation --only naive,pooled_week
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED  # noqa: E402

VALIDATION_END = datetime(2016, 12, 6)


def load(which: str) -> Any:
    import polars as pl

    from shipml.apps.parking.occupancy import read_occupancy
    from shipml.apps.parking.sources import BIRMINGHAM_NAMES, BIRMINGHAM_OCCUPANCY

    data = read_occupancy(SHARED / BIRMINGHAM_OCCUPANCY, id_col="SystemCodeNumber", time_col="LastUpdated",
                          capacity_col="Capacity", occupied_col="Occupancy", names=list(BIRMINGHAM_NAMES),
                          freq="30min")
    series = data.series
    if which == "validation":
        series = series.filter(pl.col("ds") < VALIDATION_END)
    return series, data.grid


def configurations() -> dict[str, Callable[[], Any]]:
    import pooled_growth as pooled

    from shipml.apps.parking.direct import DirectLightGbm
    from shipml.apps.parking.forecasters import SeasonalNaive

    before = {"features": "base", "partner": "y7", "combine": "none"}  # direct_lightgbm before the second round
    out: dict[str, Callable[[], Any]] = {
        "naive": SeasonalNaive, "direct_lightgbm": DirectLightGbm,
        "direct_before": lambda: DirectLightGbm(**before),
        "direct_recent_feature": lambda: DirectLightGbm(**{**before, "features": "recent"}),
        "direct_recent_partner": lambda: DirectLightGbm(**{**before, "partner": "recent"}),
        "direct_recent_both": lambda: DirectLightGbm(features="recent", partner="recent", combine="none"),
        **{f"direct_recent_mstl{w}": (lambda w=w: DirectLightGbm(features="recent", partner="recent",
                                                                 combine="mix", mstl_weight=w))
           for w in (0.1, 0.2, 0.3)},
        **{f"direct_recent_mstl0.2_{k}w": (lambda k=k: DirectLightGbm(features="recent", partner="recent",
                                                                      combine="mix", mstl_weight=0.2, mstl_weeks=k))
           for k in (6, 12)},
        # third round (issue19_wide.py): per slot the median of five members (see direct.py)
        **{f"direct_median_{k}w": (lambda k=k: DirectLightGbm(combine="median", mstl_weeks=k)) for k in (6, 12)},
    }
    for name, factory in pooled.EXPERIMENTS.items():
        out[name] = factory
    return out


def main() -> None:
    from shipml.apps.parking.backtest import backtest

    parser = argparse.ArgumentParser()
    parser.add_argument("--set", choices=("validation", "scored"), default="validation")
    parser.add_argument("--only", default="")
    parser.add_argument("--origins", type=int, default=14)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    configs = configurations()
    names = [n for n in args.only.split(",") if n] or list(configs)
    series, grid = load(args.set)
    for name in names:
        row = backtest(series, grid, horizon=grid.slots_per_day, origins=args.origins, models=[name],
                       factories={name: configs[name]})[0]
        print(json.dumps({"set": args.set, **row}), flush=True)


if __name__ == "__main__":
    main()
