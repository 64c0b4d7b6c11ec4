"""Platform figures: cold start of `shipml up` to healthy, /api/health latency under load from a
second process (wrk), and idle memory of every process `shipml up` runs.

    .venv/bin/python benchmarks/platform/run.py
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import emit, free_port, tree_rss_mib, wrk_latency  # noqa: E402

NAME = "platform"


def start(home: Path, api: int, ui: int, prepare: bool) -> tuple[subprocess.Popen[bytes], float]:
    env = {**os.environ, "SHIPML_HOME": str(home), "SHIPML_API_PORT": str(api), "SHIPML_UI_PORT": str(ui),
           "SHIPML_API_URL": f"http://127.0.0.1:{api}", "SHIPML_COVID_SOURCE": "synthetic"}
    cmd = [sys.executable, "-m", "shipml.cli", "up"] + ([] if prepare else ["--skip-prepare"])
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{api}/api/health", timeout=1).status_code == 200:
                ui_ok = httpx.get(f"http://127.0.0.1:{ui}/_stcore/health", timeout=1).status_code == 200
                if ui_ok:
                    return proc, time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"shipml up exited with {proc.returncode}")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=30)


def main() -> None:
    if not shutil.which("wrk"):
        raise SystemExit("install wrk (apt-get install wrk) to measure latency under load")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        api, ui = free_port(), free_port()
        proc, cold = start(home, api, ui, prepare=True)
        emit(NAME, "cold start to healthy, first run (migrate, synthetic ingest and training of every app, start)",
             cold, "s")
        time.sleep(10)
        emit(NAME, "idle memory, all processes of shipml up (RSS)", tree_rss_mib(proc.pid), "MiB")
        result = wrk_latency(f"http://127.0.0.1:{api}/api/health")
        emit(NAME, "/api/health p50 under load (wrk, 2 threads, 8 connections)", result["p50"], "ms")
        emit(NAME, "/api/health p99 under load (wrk, 2 threads, 8 connections)", result["p99"], "ms")
        emit(NAME, "/api/health throughput", result["rps"], "req/s")
        stop(proc)
        proc, warm = start(home, api, ui, prepare=True)
        emit(NAME, "start to healthy, second run (data and champion present: no-op refresh, no training)",
             warm, "s")
        stop(proc)


if __name__ == "__main__":
    main()
