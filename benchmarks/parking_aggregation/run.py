"""Import + hourly aggregation of 10,000,000 SYNTHETIC SER tickets: wall time and peak memory (goal < 60 s, < 2 GB).

The tickets are simulated in the real format (four quarterly files of 2024, calibrated on the 2023-08 spaces
file), then a fresh process imports them (``read_tickets``: every cleaning rule, rejections counted) and counts
active tickets per neighbourhood, zone and hour (``active_tickets_by_hour``). Peak memory is that process's
maximum resident set size.

    .venv/bin/python benchmarks/parking_aggregation/run.py [--tickets 10000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import SHARED, emit  # noqa: E402

NAME = "parking_aggregation"
CHILD = """
import json, sys, time
from pathlib import Path
from shipml.apps.parking.aggregation import active_tickets_by_hour
from shipml.apps.parking.spaces import neighbourhood_names, read_spaces, spaces_per_neighbourhood
from shipml.apps.parking.tickets import read_tickets
per = spaces_per_neighbourhood(read_spaces(Path(sys.argv[1])))
started = time.perf_counter()
imported = read_tickets(Path(sys.argv[2]), neighbourhood_names(per))
read_s = time.perf_counter() - started
active = active_tickets_by_hour(imported.kinds)
total_s = time.perf_counter() - started
print(json.dumps({"read_s": read_s, "total_s": total_s, "tickets": imported.tickets, "kinds": imported.kinds.height,
                  "rows": active.height, "report": imported.report.to_dict()}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=10_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="reuse/keep the simulated files in this folder")
    args = parser.parse_args()
    from shipml.apps.parking.spaces import read_spaces, spaces_per_neighbourhood
    from shipml.apps.parking.synthetic import simulate_tickets

    spaces_file = SHARED / "parking/ser_spaces_jjimenezshaw/Listado_plazas_SER_2023_08.csv"
    per = spaces_per_neighbourhood(read_spaces(spaces_file))
    folder = args.keep or Path(tempfile.mkdtemp(prefix="parking_bench_"))
    files = sorted(folder.glob("SYNTHETIC_*.csv"))
    if not files:
        scale = 0.153 * args.tickets / 10_000_000  # ≈ 10 M tickets in 2024 at 0.153
        started = time.perf_counter()
        simulated = simulate_tickets(folder, date(2024, 1, 1), date(2024, 12, 31), per, scale=scale, seed=0)
        emit(NAME, "simulate tickets (4 quarterly files, real format)", time.perf_counter() - started, "s",
             tickets=sum(f.tickets for f in simulated))
        files = [f.path for f in simulated]
    size = sum(f.stat().st_size for f in files)
    out = subprocess.run([sys.executable, "-c", CHILD, str(spaces_file), str(folder)], capture_output=True,
                         text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    extra = {"tickets": result["tickets"], "files": len(files), "csv_mib": round(size / 2**20),
             "ticket_kinds": result["kinds"], "hourly_rows": result["rows"]}
    emit(NAME, "import tickets (read, clean, count rejections)", result["read_s"], "s", **extra)
    emit(NAME, "import + hourly aggregation, total", result["total_s"], "s", target="< 60 s", **extra)
    emit(NAME, "peak memory of the import + aggregation process (max RSS)", peak_mib, "MiB", target="< 2048 MiB",
         **extra)


if __name__ == "__main__":
    main()
