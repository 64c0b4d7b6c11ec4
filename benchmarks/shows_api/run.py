"""Shows end to end on embedded defaults: submit 5 liked titles → 202 → poll until done, as the page does.

Starts the real API and worker (SQLite database and queue) on the real anime data (imported and trained first),
then sends sequential requests from this process and times submit → done. Also the ingest and training times.

    .venv/bin/python benchmarks/shows_api/run.py
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import SHARED, emit, serving  # noqa: E402

NAME = "shows_api"
REQUESTS = 300


def _timed(env: dict[str, str], code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SHIPML_HOME": tmp}
        prefix = ("import time; from shipml.core import db, platform; db.migrate(); from shipml.apps import get; "
                  "from shipml.apps.shows import tasks\n")
        ingest = _timed(env, prefix + f"t = time.perf_counter(); tasks.ingest({str(SHARED / 'shows')!r}); "
                                      "print(time.perf_counter() - t)")
        emit(NAME, "ingest the anime TV data into the catalog and ratings store, then export", ingest, "s")
        train = _timed(env, prefix + "t = time.perf_counter(); platform.train(get('shows')); "
                                     "print(time.perf_counter() - t)")
        emit(NAME, "shipml train shows end to end (export, compare 4 models on held-out users, fit the best, "
             "log, promote)", train, "s")

        with serving(env, worker=True) as base, httpx.Client(base_url=base, timeout=30) as client:
            titles = [s["title"] for q in ("Naruto", "Death Note", "Bleach", "One Piece", "Gintama", "Monster",
                                           "Fullmetal", "Cowboy", "Haikyuu", "Shingeki")
                      for s in client.get("/api/shows/search", params={"q": q, "limit": 3}).json()]
            rnd = random.Random(0)
            latencies = []
            for i in range(REQUESTS + 5):
                started = time.perf_counter()
                pid = client.post("/api/shows/recommendations",
                                  json={"shows": rnd.sample(titles, 5)}).json()["prediction_id"]
                while (body := client.get(f"/api/shows/recommendations/{pid}").json())["status"] == "pending":
                    time.sleep(0.02)
                assert body["status"] == "done", body
                if i >= 5:  # the first few load the champion into the worker
                    latencies.append(time.perf_counter() - started)
        latencies.sort()
        emit(NAME, f"submit → done p50, 5 liked titles, {REQUESTS} sequential requests (API + worker, "
             "SQLite queue)", latencies[len(latencies) // 2] * 1e3, "ms")
        emit(NAME, "submit → done p99, same", latencies[int(len(latencies) * 0.99)] * 1e3, "ms")

if __name__ == "__main__":
    main()
