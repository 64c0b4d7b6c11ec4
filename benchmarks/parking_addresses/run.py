"""Parking address search over HTTP under load: p50/p99 and requests/s at 16 connections (goal p99 < 20 ms).

`shipml api` (one process, its default) in a fresh home serves `/api/parking/addresses` from the bundled street list
(no model needed). wrk (2 threads, 16 connections, 15 s) cycles through 3,000 distinct queries built from the list:
listed addresses as written, with a letter dropped, with a number that is not listed, streets without a number, and
names that are not in the list (404 with suggestions, counted apart). The API keeps 2,048 rendered answers, so a
cycle of 3,000 queries misses that cache on every request: the figure is the search itself. A second run repeats
20 queries (the cache's case: a popular street).

    .venv/bin/python benchmarks/parking_addresses/run.py
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import emit, serving  # noqa: E402

from shipml.apps.parking.addresses import display_street  # noqa: E402
from shipml.apps.parking.bundle import ADDRESSES  # noqa: E402

NAME = "parking_addresses"
QUERIES, CONNECTIONS, SECONDS = 3000, 16, 15
NOT_LISTED = ["Gran Via", "Puerta del Sol", "Plaza de Callao", "Calle del Arenal 5", "Calle de Preciados 10",
              "Calle de Montera 20", "Plaza de Cibeles", "zzzzqqqq"]
LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def queries(n: int) -> list[str]:
    rows = pl.read_parquet(ADDRESSES).select("street", "number").unique().sort("street", "number")
    rnd = random.Random(0)
    picked = rows.sample(n, seed=0, shuffle=True).iter_rows()
    out = []
    for i, (raw, number) in enumerate(picked):
        street = display_street(raw).title()
        digits = re.match(r"\d+", number or "")
        kind = i % 6
        if kind == 0 or not digits:
            out.append(street)  # the whole street
        elif kind == 1:
            words = street.split()
            j = max(range(len(words)), key=lambda k: len(words[k]))
            cut = len(words[j]) // 2
            words[j] = words[j][:cut] + words[j][cut + 1:]
            out.append(f"{' '.join(words)} {digits.group()}")  # a dropped letter
        elif kind == 2:
            out.append(f"{street} {int(digits.group()) + rnd.choice([2, 4, 40, 400])}")  # perhaps not listed
        elif kind == 3:
            out.append(rnd.choice(NOT_LISTED))
        else:
            out.append(f"{street} {digits.group()}")  # as listed
    return out


def wrk(url: str, script: Path) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"p50": ms("50%"), "p99": ms("99%"), "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
            "not_2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sum(int(g) for g in socket.groups()) if socket else 0}


def search_alone(every: list[str]) -> None:
    """The search and its rendering in this process, one query after another (no HTTP, no cache)."""
    from shipml.apps.parking import places_api as api
    from shipml.core.errors import NotFound

    api._address_bytes(0, "calle mayor", 5)
    times = []
    for q in every:
        started = time.perf_counter()
        try:
            api._address_bytes(0, q, 5)
        except NotFound:
            pass
        times.append((time.perf_counter() - started) * 1e3)
    times.sort()
    emit(NAME, "search + rendering alone (in process, sequential, 3,000 queries) p50", times[len(times) // 2], "ms")
    emit(NAME, "search + rendering alone (in process, sequential, 3,000 queries) p99", times[int(len(times) * .99)],
         "ms")


def main() -> None:
    import httpx

    every = queries(QUERIES)
    search_alone(every)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SHIPML_HOME": tmp}
        with serving(env) as base:
            statuses = [httpx.get(f"{base}/api/parking/addresses", params={"q": q}, timeout=30).status_code
                        for q in every[:300]]  # warms the index; and what share of the mix is a 404
            share_404 = statuses.count(404) / len(statuses)
            runs = (("/api/parking/addresses", "3,000 distinct queries in turn (every request a cache miss)",
                     [f"/api/parking/addresses?q={quote(q)}" for q in every]),
                    ("/api/parking/addresses", "20 queries repeated (rendered answers reused)",
                     [f"/api/parking/addresses?q={quote(q)}" for q in every[:20]]),
                    ("/api/health", "the floor: the same server's health answer", ["/api/health"]))
            for path, label, mix in runs:
                script = Path(tmp) / "addresses.lua"
                script.write_text(LUA % ", ".join(f'"{p}"' for p in mix))
                r = wrk(base, script)
                what = f"GET {path} at {CONNECTIONS} connections, {label}"
                extra = {"requests": r["requests"], "not_2xx": r["not_2xx"], "socket_errors": r["socket_errors"],
                         "share_404_in_mix": round(share_404, 3)}
                emit(NAME, f"{what} p50", r["p50"], "ms", **extra)
                emit(NAME, f"{what} p99", r["p99"], "ms", **extra)
                emit(NAME, f"{what} requests/s", r["rps"], "req/s", **extra)


if __name__ == "__main__":
    main()
