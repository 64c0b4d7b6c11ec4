"""The parking backtest embedded vs on Spark (issue 21): wall time of the same rolling-origin backtest, and whether
the Spark rows equal the embedded ones (MASE, MAE, coverage, points, origins, series; fit seconds aside).

Data and protocol as "parking forecasts II" (``benchmarks/parking_models``): Birmingham car parks (real, 29 with
two weeks of history), 30-min slots 08:00–16:30, 1-day horizon, 14 daily origins, whole days only. Per model: the
embedded engine (this process, one thread), then the Spark engine on ``--master`` (default ``local[2]``): a
per-series model is one task per (car park, origin), a global one (``direct_lightgbm``) one task per origin. The
session is started and warmed (one trivial job) before the Spark runs, and its start is reported on its own; each
Spark figure still includes starting the Python workers and their first imports. Everything runs one thread per
process (``OMP_NUM_THREADS=1``, ``POLARS_MAX_THREADS=1``); the load average is printed beside each figure, and
``cpu_s`` is the CPU time of this process and its live descendants (the JVM, the Python workers) during the run:
on a busy machine the wall time says little, the CPU time what the fan-out costs.

    nice -n 19 .venv/bin/python benchmarks/parking_spark_backtest/run.py [--models seasonal_naive,mstl,direct_lightgbm]
        [--origins 14] [--master local[2]] [--partitions N]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy, LightGBM and the Spark workers (they inherit it)
os.environ.setdefault("POLARS_MAX_THREADS", "1")

import argparse  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import SHARED, emit, tree_cpu_s  # noqa: E402

NAME = "parking_spark_backtest"
MODELS = ("seasonal_naive", "mstl", "direct_lightgbm")
FIGURES = ("mase", "mae", "coverage", "points", "origins", "series", "min_history_days")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k])) for k in FIGURES)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--origins", type=int, default=14)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--partitions", type=int, default=None, help="slices of the task table (default 4 per core)")
    args = parser.parse_args()
    os.environ["SHIPML_SPARK_MASTER"] = args.master
    logging.basicConfig(level=logging.WARNING)

    from shipml.apps.parking.backtest import backtest, plan
    from shipml.apps.parking.occupancy import horizon_steps, read_occupancy
    from shipml.apps.parking.sources import BIRMINGHAM_NAMES, BIRMINGHAM_OCCUPANCY
    from shipml.apps.parking.spark import backtest_on_spark, backtest_tasks
    from shipml.core.spark import session

    data = read_occupancy(SHARED / BIRMINGHAM_OCCUPANCY, id_col="SystemCodeNumber", time_col="LastUpdated",
                          capacity_col="Capacity", occupied_col="Occupancy", names=list(BIRMINGHAM_NAMES),
                          freq="30min")
    h = horizon_steps("1d", data.grid, "30min")
    started = time.perf_counter()
    spark = session("shipml-parking")
    spark.sparkContext.parallelize(range(2), 2).map(lambda x: x + 1).collect()
    emit(NAME, f"Spark session start and a first job ({args.master})", time.perf_counter() - started, "s",
         load=_load())
    for model in args.models.split(","):
        p = plan(data.series, data.grid, horizon=h, origins=args.origins, models=[model])
        tasks = len(backtest_tasks(p, [model]))
        common = {"model": model, "master": args.master, "tasks": tasks,
                  "series": p.n_series, "origins": len(p.windows)}
        load_before, cpu = _load(), tree_cpu_s(os.getpid())
        started = time.perf_counter()
        embedded = backtest(data.series, data.grid, horizon=h, origins=args.origins, models=[model])[0]
        emit(NAME, f"birmingham {model} backtest embedded", time.perf_counter() - started, "s",
             points=embedded["points"], cpu_s=round(tree_cpu_s(os.getpid()) - cpu, 1),
             load=f"{load_before} -> {_load()}", **common)
        load_before, cpu = _load(), tree_cpu_s(os.getpid())  # this process, the JVM and its Python workers
        started = time.perf_counter()  # the plan again, as backtest() makes it before either engine
        on_spark = backtest_on_spark(plan(data.series, data.grid, horizon=h, origins=args.origins, models=[model]),
                                     [model], partitions=args.partitions)[0]
        seconds = time.perf_counter() - started
        emit(NAME, f"birmingham {model} backtest on Spark", seconds, "s", points=on_spark["points"],
             cpu_s=round(tree_cpu_s(os.getpid()) - cpu, 1), load=f"{load_before} -> {_load()}", **common)
        emit(NAME, f"birmingham {model} Spark rows equal the embedded ones", float(_same(embedded, on_spark)), "bool",
             mase=embedded["mase"], spark_mase=on_spark["mase"], mae=embedded["mae"], coverage=embedded["coverage"],
             **common)
        emit(NAME, f"birmingham {model} fit seconds per origin (embedded / summed over Spark tasks)",
             embedded["fit_seconds"], "s", spark=round(on_spark["fit_seconds"], 3), **common)


if __name__ == "__main__":
    main()
