"""Helpers shared by the benchmark scripts: figures as JSON lines, free ports, process-tree memory."""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHIPML_SHARED_DATA", REPO.parent / "shared" / "data"))


def emit(benchmark: str, figure: str, value: float, unit: str, **extra: object) -> None:
    """Print one figure as one JSON line."""
    print(json.dumps({"benchmark": benchmark, "figure": figure, "value": round(value, 4), "unit": unit,
                      "date": datetime.now(UTC).date().isoformat(),
                      "machine": f"{platform.machine()} {os.cpu_count()} cores", **extra}), flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.exists():
            out += [int(c) for c in children.read_text().split()]
    return out


def tree_rss_mib(root: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            stack += _children(pid)
        except FileNotFoundError:
            continue
    return total / 1024


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) used so far by a process and its live descendants."""
    total, stack, tick = 0.0, [root], os.sysconf("SC_CLK_TCK")
    while stack:
        pid = stack.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            stack += _children(pid)
        except FileNotFoundError:
            continue
    return total


def wrk_latency(url: str, seconds: int = 15, connections: int = 8) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"p50": ms("50%"), "p99": ms("99%"), "rps": rps}


class Served(str):
    """The API's base URL, with the API process's id (``api_pid``, for its CPU time)."""

    api_pid: int


@contextmanager
def serving(env: dict[str, str], worker: bool = False) -> Iterator[Served]:
    """Run `shipml api` (and `shipml worker`) with ``env`` until the block ends; yields the API's base URL once
    /api/health answers 200."""
    port = free_port()
    commands = [["api", "--port", str(port)]] + ([["worker"]] if worker else [])
    procs = [subprocess.Popen([sys.executable, "-m", "shipml.cli", *args], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True) for args in commands]
    base = Served(f"http://127.0.0.1:{port}")
    base.api_pid = procs[0].pid
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the API did not become healthy within 60 s")
            time.sleep(0.1)
        yield base
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGINT)
        for proc in procs:
            proc.wait(timeout=30)
