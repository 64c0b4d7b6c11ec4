"""Helpers shared by the benchmark scripts: figures as JSON lines, free ports, process-tree memory."""

from __future__ import annotations

import json
import os
import platform
import socket
from datetime import UTC, datetime
from pathlib import Path

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
