"""Read endpoints under load, and a burst of recommendation requests, on the real data of covid, cycling and shows.

Prepares one home (covid from datasets_data.csv; cycling and shows ingested and trained from ../shared/data), starts
`shipml api` as `shipml up` does (its default number of API processes, or ``--api-workers N``) with a worker, then:

- wrk (2 threads, 15 s) at 8 and at 64 connections on /api/health, /api/covid/series, POST /api/cycling/similar
  and /api/shows/search: p50, p99, requests/s, errors (socket errors plus non-2xx answers), and the API process's
  CPU time per request (user + system, from /proc: far less sensitive to other load than the latencies);
- 2,000 recommendation requests submitted at once (asyncio + aiohttp, a connection each), each polled with
  ``?wait=10`` (long polling) until it is done: the time until the last one is done, and how many were not done.

The public write limit is lifted for the burst (``SHIPML_PUBLIC_WRITES_PER_MINUTE``): it comes from one address.

    .venv/bin/python benchmarks/api_load/run.py [--api-workers N] [--only health,covid,cycling,shows,burst]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import SHARED, emit, serving, tree_cpu_s  # noqa: E402

NAME = "api_load"
BURST = 2000
PREPARE = f"""
from shipml.core import db, platform
from shipml.apps import get
from shipml.apps.covid import data as covid
from shipml.apps.cycling import tasks as cycling
from shipml.apps.shows import tasks as shows
db.migrate()
assert covid.refresh({str(SHARED / "covid" / "datasets_data.csv")!r})["status"] == "stored"
cycling.ingest({str(SHARED / "cycling")!r})
shows.ingest({str(SHARED / "shows")!r})
platform.train(get("cycling"))
platform.train(get("shows"))
"""
POST_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local riders = {%s}
local i = 0
request = function()
  i = i + 1
  local body = '{"rider": "' .. riders[(i %% #riders) + 1] .. '", "n": 10}'
  return wrk.format(nil, nil, nil, body)
end
"""


def wrk(url: str, connections: int, script: str | None = None, seconds: int = 15) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    out = subprocess.run([*cmd, *(["-s", script] if script else []), url], capture_output=True, text=True,
                         check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = (sum(int(g) for g in socket.groups()) if socket else 0) + (int(non2xx.group(1)) if non2xx else 0)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"p50": ms("50%"), "p99": ms("99%"), "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)
                                                              .group(1)), "errors": errors, "requests": total}


async def burst(base: str, titles: list[str], submit_wait: float = 10) -> tuple[float, int, int]:
    """Submit BURST requests at once (a connection each, as BURST users would), each held by the API until its
    prediction is done (``wait``, as the shows page submits) or ``submit_wait`` s have passed, then long-poll those
    still pending; (seconds to the last done, done, not done). ``submit_wait=0``: submit, then long-poll (the
    protocol before submits could wait). aiohttp, not httpx: with 2,000 connections the load generator must not be
    the bottleneck on the same two cores."""
    import aiohttp

    rnd = random.Random(0)
    bodies = [{"shows": rnd.sample(titles, 5)} for _ in range(BURST)]
    connector = aiohttp.TCPConnector(limit=BURST)
    async with aiohttp.ClientSession(base, connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as client:
        async def one(body: dict[str, list[str]]) -> bool:
            async with client.post("/api/shows/recommendations", json=body, params={"wait": str(submit_wait)}) as r:
                if r.status not in (200, 202):
                    return False
                accepted = await r.json()
            if accepted.get("answer"):
                return bool(accepted["answer"]["status"] == "done")
            pid = accepted["prediction_id"]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # long polling: held by the API until done (or 10 s)
                async with client.get(f"/api/shows/recommendations/{pid}", params={"wait": "10"}) as r:
                    status = (await r.json())["status"]
                if status != "pending":
                    return bool(status == "done")
            return False

        started = time.perf_counter()
        results = await asyncio.gather(*(one(b) for b in bodies))
        elapsed = time.perf_counter() - started
    return elapsed, sum(results), len(results) - sum(results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--api-workers", type=int, default=None)
    parser.add_argument("--only", default="health,covid,cycling,shows,burst")
    args = parser.parse_args()
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SHIPML_HOME": tmp, "SHIPML_PUBLIC_WRITES_PER_MINUTE": "1000000"}
        if args.api_workers:
            env["SHIPML_API_WORKERS"] = str(args.api_workers)
        subprocess.run([sys.executable, "-c", PREPARE], env=env, check=True, capture_output=True)
        with serving(env, worker=True) as base, httpx.Client(base_url=base, timeout=30) as client:
            riders = [r["rider"] for r in client.get("/api/cycling/riders", params={"limit": 200}).json()["riders"]]
            script = Path(tmp) / "similar.lua"
            script.write_text(POST_LUA % ", ".join(f'"{r}"' for r in riders))
            reads = {
                "health": (f"{base}/api/health", None),
                "covid": (f"{base}/api/covid/series?metric=cases,deaths,cases_7d&rolling=7&from=2021-01-01", None),
                "cycling": (f"{base}/api/cycling/similar", str(script)),
                "shows": (f"{base}/api/shows/search?q=naruto", None),
            }
            for label, (url, lua) in reads.items():
                if label not in only:
                    continue
                for connections in (8, 64):
                    cpu = tree_cpu_s(base.api_pid)
                    r = wrk(url, connections, lua)
                    cpu_ms = (tree_cpu_s(base.api_pid) - cpu) * 1000 / max(r["requests"], 1)
                    extra = {"endpoint": label, "connections": connections, "requests": r["requests"],
                             "errors": r["errors"], "api_workers": args.api_workers or "default"}
                    emit(NAME, f"{label} p50 at {connections} connections", r["p50"], "ms", **extra)
                    emit(NAME, f"{label} p99 at {connections} connections", r["p99"], "ms", **extra)
                    emit(NAME, f"{label} throughput at {connections} connections", r["rps"], "req/s", **extra)
                    emit(NAME, f"{label} API CPU per request at {connections} connections", round(cpu_ms, 3), "ms",
                         **extra)
            if "burst" in only:
                titles = [s["title"] for q in ("Naruto", "Death Note", "Bleach", "One Piece", "Gintama", "Monster",
                                               "Fullmetal", "Cowboy", "Haikyuu", "Shingeki")
                          for s in client.get("/api/shows/search", params={"q": q, "limit": 3}).json()]
                elapsed, done, lost = asyncio.run(burst(base, titles))
                emit(NAME, f"{BURST} concurrent recommendation requests: submit → all done", elapsed, "s",
                     done=done, not_done=lost, api_workers=args.api_workers or "default")


if __name__ == "__main__":
    main()
