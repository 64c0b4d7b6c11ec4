"""Covid figures: a refresh of datasets_data.csv end to end without download (read, parse, validate,
store; then derive as the API does on first use), and the API `series` call p50/p99 under load (wrk).

    .venv/bin/python benchmarks/covid/run.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import SHARED, emit, serving, wrk_latency  # noqa: E402

NAME = "covid"
SOURCE = SHARED / "covid" / "datasets_data.csv"


def refresh_timings(home: Path, repeats: int = 5) -> list[float]:
    """Each repeat in a fresh home, so every refresh really parses, validates and stores."""
    code = (
        "import time, sys\n"
        "t = time.perf_counter()\n"
        "from shipml.core import db\n"
        "from shipml.apps.covid import data, metrics\n"
        "db.migrate()\n"
        "t = time.perf_counter()\n"
        f"result = data.refresh({str(SOURCE)!r})\n"
        "snap, clean = data.load_clean()\n"
        "metrics.derive(clean)\n"
        "assert result['status'] == 'stored', result\n"
        "print(time.perf_counter() - t)\n"
    )
    out = []
    for i in range(repeats):
        env = {**os.environ, "SHIPML_HOME": str(home / f"r{i}")}
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             check=True)
        out.append(float(run.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        timings = refresh_timings(home)
        emit(NAME, "refresh datasets_data.csv end to end (parse, validate, store, derive), median of 5",
             statistics.median(timings), "s", rows=1187, columns=130)

        env = {**os.environ, "SHIPML_HOME": str(home / "r0")}
        with serving(env) as base:
            url = f"{base}/api/covid/series?metric=cases,deaths,cases_7d&rolling=7&from=2021-01-01"
            assert httpx.get(url).status_code == 200
            result = wrk_latency(url, seconds=15, connections=8)
            emit(NAME, "/api/covid/series p50 (3 metrics, rolling 7, ~900 days; wrk 2 threads 8 conns)",
                 result["p50"], "ms")
            emit(NAME, "/api/covid/series p99 (same load)", result["p99"], "ms")
            emit(NAME, "/api/covid/series throughput", result["rps"], "req/s")


if __name__ == "__main__":
    main()
