"""Parking API latency over HTTP on 127.0.0.1: availability p99 (goal < 20 ms) and map p99 (goal < 100 ms).

Simulated tickets (3 weeks, all neighbourhoods) are ingested and a model trained in a fresh home; then the real API
(`shipml api`, uvicorn) answers sequential requests from this process (bounded loops), for random neighbourhoods
and hours of the forecast week. Every request counts, including the first of each hour (uncached).

    .venv/bin/python benchmarks/parking_api/run.py
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import emit, serving  # noqa: E402

NAME = "parking_api"
AVAILABILITY, MAPS = 3000, 600
LAST = date(2024, 3, 1)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SHIPML_HOME": tmp}
        code = ("from datetime import date; from shipml.core import db; db.migrate()\n"
                "from shipml.apps.parking import ingest, tasks; from shipml.core.training import select_and_promote\n"
                f"ingest.refresh(str(ingest.simulate(weeks=3, last=date({LAST.year}, {LAST.month}, {LAST.day}))))\n"
                "select_and_promote(tasks.model_spec(['seasonal_naive', 'global_lightgbm'], origins=1))\n")
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        rnd = random.Random(0)
        with serving(env) as base, httpx.Client(base_url=base, timeout=30) as client:
            ids = [n["id"] for n in client.get("/api/parking/neighbourhoods").json() if n["spaces"]]
            monday = datetime.combine(LAST + timedelta(days=3), datetime.min.time())
            hours = [monday + timedelta(days=d, hours=h) for d in range(5) for h in range(9, 21)]
            for path, n, params in (("availability", AVAILABILITY,
                                     lambda: {"at": rnd.choice(hours).isoformat(), "neighbourhood": rnd.choice(ids)}),
                                    ("map", MAPS, lambda: {"at": rnd.choice(hours).isoformat()})):
                client.get(f"/api/parking/{path}", params=params()).raise_for_status()  # loads the champion
                times = []
                for _ in range(n):
                    started = time.perf_counter()
                    client.get(f"/api/parking/{path}", params=params()).raise_for_status()
                    times.append((time.perf_counter() - started) * 1e3)
                times.sort()
                what = (f"{n} sequential requests, random neighbourhood and hour" if path == "availability"
                        else f"{n} sequential requests, 60 polygons, random hour of 60 (first of each uncached)")
                emit(NAME, f"GET /api/parking/{path} p50, {what}", times[n // 2], "ms")
                emit(NAME, f"GET /api/parking/{path} p99, {what}", times[int(n * 0.99)], "ms")


if __name__ == "__main__":
    main()
