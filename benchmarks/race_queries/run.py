"""The race's public reads at 1,000,000 runners with realistic names: CPU per request and p99 at 64 connections.

Field: the simulated participants (``demo.participants``: names fitting each runner's category, over 900,000
distinct names in a million), a state an hour into the race with every runner's trail filled (as the processor
keeps it), published once. ``shipml api`` alone on 127.0.0.1. For each read:

* CPU per request: the API process's CPU time (user + system, from /proc) over ``--samples`` sequential requests
  from this process, divided by their number (so it includes HTTP parsing and JSON encoding);
* p50 / p99 / requests per second at ``--connections`` connections: wrk (2 threads, ``--seconds``), each request
  drawn in turn from 500 paths of that kind (a Lua script), on the same 2 cores as the API.

Reads: leaderboard top 10; one runner by bib with its track (the default); an unknown bib (404); search by bib;
search by a name of the field with one letter dropped (a typo); search by the first letters of a first name
and a surname.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/race_queries/run.py [--runners 1000000] [--connections 64]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import httpx  # noqa: E402
import numpy as np  # noqa: E402
from _common import emit, free_port, tree_cpu_s  # noqa: E402

NAME = "race_queries"
SHIPML = [sys.executable, "-m", "shipml.cli"]

BUILD = """
import sys, time
import numpy as np
from datetime import UTC, datetime, timedelta
from shipml.apps.race import definition, demo, publish
from shipml.apps.race.definition import RaceDefinition
from shipml.apps.race.standings import Standings
from shipml.apps.race.trail import TRAIL_EVERY_S, TRAIL_POINTS
runners = int(sys.argv[1])
d = RaceDefinition(name="big", title="big", start=datetime.now(UTC) - timedelta(hours=1))
definition.define(d, demo.course_gpx().encode(), definition.read_participants(demo.participants(runners)))
race = definition.load("big")
p = race.new_processor()
rng = np.random.default_rng()
p.progress_m[:] = rng.uniform(0, race.course.length_m * 0.99, p.runners)
p.last_t[:] = time.time() - rng.uniform(0, 10, p.runners)
p.progress_t[:] = p.last_t
p.status[:] = 1
p.speed_mps[:] = 3.0
p.last_x[:], p.last_y[:] = race.course.xy_at(p.progress_m)
back = TRAIL_EVERY_S * np.arange(TRAIL_POINTS - 1, -1, -1)
p.trail_t[:] = (p.last_t - p.start_t)[:, None] - back
p.trail_m[:] = np.maximum(p.progress_m[:, None] - 3.0 * back, 0.0)
p.trail_head[:] = TRAIL_POINTS - 1
p.version = 1
publish.publish(race, p, Standings(p), {})
print(race.participants["name"].n_unique())
"""


def wait_api(base: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/race/races", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the API did not answer within 120 s")


def wrk(base: str, paths: list[str], seconds: int, connections: int, folder: Path) -> dict[str, float]:
    script = folder / "paths.lua"
    listed = ",".join('"' + p.replace('"', '\\"') + '"' for p in paths)
    script.write_text(f"paths = {{{listed}}}\ni = 0\nrequest = function()\n  i = i + 1\n"
                      "  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n")
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), base],
                         capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"p50": ms("50%"), "p99": ms("99%"), "rps": rps, "non_2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(0) if errors else ""}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runners", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200, help="sequential requests per read for CPU per request")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="race-queries-") as tmp:
        home = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPML_")}
        env.update(SHIPML_HOME=str(home), OPENBLAS_NUM_THREADS="1")
        began = time.perf_counter()
        distinct = int(subprocess.run([sys.executable, "-c", BUILD, str(args.runners)], env=env, check=True,
                                      capture_output=True, text=True).stdout.split()[-1])
        extra = {"runners": args.runners, "distinct_names": distinct, "load_average": os.getloadavg()[0]}
        emit(NAME, "field built and published", time.perf_counter() - began, "s", **extra)
        import polars as pl

        names = pl.read_parquet(home / "race" / "big" / "participants.parquet")["name"].to_list()
        rng = np.random.default_rng()

        def typo(name: str) -> str:
            i = int(rng.integers(1, len(name) - 1))
            return name[:i] + name[i + 1:]

        def beginnings(name: str) -> str:
            words = name.split()
            return f"{words[0][:3]} {words[-1][:4]}"

        picks = rng.integers(0, args.runners, 500).tolist()
        cases = {
            "leaderboard top 10": ["/api/race/big/leaderboard?limit=10"] * 500,
            "one runner by bib, with its track": [f"/api/race/big/runners/{i + 1}" for i in picks],
            "unknown bib (404)": [f"/api/race/big/runners/x{i}" for i in picks],
            "search by bib": [f"/api/race/big/search?q={i + 1}" for i in picks],
            "search by a name with a typo": [f"/api/race/big/search?q={quote(typo(names[i]))}" for i in picks],
            "search by the first letters of a name": [f"/api/race/big/search?q={quote(beginnings(names[i]))}"
                                                      for i in picks],
        }
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with (home / "api.log").open("ab") as log:
            api = subprocess.Popen([*SHIPML, "api", "--port", str(port)], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_api(base)
            client = httpx.Client(base_url=base, timeout=60)
            began = time.perf_counter()
            client.get("/api/race/big/search", params={"q": "warm up"})  # builds the name index
            emit(NAME, "first search (builds the name index of the field)", time.perf_counter() - began, "s",
                 **extra)
            for figure, paths in cases.items():
                for path in paths[:20]:  # first touch of the memory maps
                    client.get(path)
                statuses = set()
                cpu_before = tree_cpu_s(api.pid)
                for path in (paths * (args.samples // len(paths) + 1))[:args.samples]:
                    statuses.add(client.get(path).status_code)
                cpu_ms = (tree_cpu_s(api.pid) - cpu_before) * 1000 / args.samples
                emit(NAME, f"{figure}: API CPU per request at {args.runners:,} runners", cpu_ms, "ms",
                     goal=50, statuses=sorted(statuses), samples=args.samples, **extra)
                loaded = wrk(base, paths, args.seconds, args.connections, home)
                emit(NAME, f"{figure}: p99 at {args.connections} connections", loaded["p99"], "ms", goal=50,
                     p50_ms=loaded["p50"], requests_per_s=loaded["rps"], non_2xx=loaded["non_2xx"],
                     socket_errors=loaded["socket_errors"], **extra)
        finally:
            api.terminate()
            api.wait(timeout=30)


if __name__ == "__main__":
    main()
