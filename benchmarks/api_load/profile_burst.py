"""Where the CPU of the recommendation burst goes: the same burst as ``run.py --only burst`` (2,000 requests, each
held until done or long-polled; ``--submit-wait``), with the CPU seconds used by the API process, the worker and
the load generator, and (``--profile DIR``) py-spy profiles of the API and the worker during the burst (samples of
the thread holding the GIL: CPU, not waits; collapsed stacks, ``DIR/apiN.txt`` and ``DIR/workerN.txt`` for run N;
read them with ``--top``).

    .venv/bin/python benchmarks/api_load/profile_burst.py [--home DIR] [--profile DIR] [--runs N] [--submit-wait 10,0]
    .venv/bin/python benchmarks/api_load/profile_burst.py --top DIR/api.txt

``--home DIR``: prepare a home in DIR once and start every invocation from a copy of it (the copy reads the models
from DIR: MLflow records their artifacts' absolute paths).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, serving, tree_cpu_s  # noqa: E402
from run import PREPARE, burst  # noqa: E402

PYSPY = os.environ.get("PYSPY", "/tmp/pyspy/bin/py-spy")


def _pids() -> dict[str, int]:
    """The API and worker processes started by ``serving`` (children of this process running ``shipml.cli``)."""
    found: dict[str, int] = {}
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            ppid = next(int(line.split()[1]) for line in (proc / "status").read_text().splitlines()
                        if line.startswith("PPid:"))
        except (OSError, StopIteration, ValueError):
            continue
        if ppid == os.getpid() and b"shipml.cli" in cmd:
            found["api" if b"api" in cmd else "worker"] = int(proc.name)
    return found


def top(path: str, n: int = 40) -> None:
    """Functions by inclusive and by self samples, from a collapsed-stack file."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        samples = int(count)
        total += samples
        for frame in set(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    print(f"{total} samples")
    print("-- inclusive")
    for frame, c in inclusive.most_common(n):
        print(f"{100 * c / total:5.1f}%  {frame}")
    print("-- self")
    for frame, c in own.most_common(n):
        print(f"{100 * c / total:5.1f}%  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home")
    parser.add_argument("--profile")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--top")
    parser.add_argument("--redis", action="store_true", help="the services of `make test-services`")
    parser.add_argument("--submit-wait", default="10",
                        help="seconds a submit waits for its answer (0: submit, then long-poll); several, comma-"
                             "separated, alternate run by run (an A/B against the same server)")
    args = parser.parse_args()
    waits = [float(w) for w in args.submit_wait.split(",")]
    if args.top:
        top(args.top)
        return
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(args.home or tmp) / ("" if args.home else "prepared")
        if not (prepared / ".prepared").exists():
            prepared.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-c", PREPARE], env={**os.environ, "SHIPML_HOME": str(prepared)},
                           check=True, capture_output=True)
            (prepared / ".prepared").touch()
        home = Path(tmp) / "home"
        shutil.copytree(prepared, home)  # every invocation starts from the same prepared state
        env = {**os.environ, "SHIPML_HOME": str(home), "SHIPML_PUBLIC_WRITES_PER_MINUTE": "1000000"}
        with serving(env, worker=True) as base, httpx.Client(base_url=base, timeout=30) as client:
            titles = [s["title"] for q in ("Naruto", "Death Note", "Bleach", "One Piece", "Gintama", "Monster",
                                           "Fullmetal", "Cowboy", "Haikyuu", "Shingeki")
                      for s in client.get("/api/shows/search", params={"q": q, "limit": 3}).json()]
            pids = _pids()
            assert set(pids) == {"api", "worker"}, pids
            for run in range(args.runs):
                spies = []
                if args.profile:
                    Path(args.profile).mkdir(parents=True, exist_ok=True)
                    spies = [subprocess.Popen([PYSPY, "record", "--format", "raw", "--gil", "--nonblocking",
                                               "-r", "100", "-o", str(Path(args.profile) / f"{name}{run}.txt"),
                                               "--pid", str(pid)],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                             for name, pid in pids.items()]
                    time.sleep(1.0)
                cpu = {name: tree_cpu_s(pid) for name, pid in pids.items()}
                me = resource.getrusage(resource.RUSAGE_SELF)
                submit_wait = waits[run % len(waits)]
                elapsed, done, lost = asyncio.run(burst(base, titles, submit_wait))
                me_after = resource.getrusage(resource.RUSAGE_SELF)
                used = {f"cpu_{name}_s": round(tree_cpu_s(pid) - cpu[name], 2) for name, pid in pids.items()}
                used["cpu_client_s"] = round(me_after.ru_utime + me_after.ru_stime - me.ru_utime - me.ru_stime, 2)
                for spy in spies:
                    spy.send_signal(signal.SIGINT)
                for spy in spies:
                    spy.wait(timeout=30)
                emit("api_load", "2000 concurrent recommendation requests: submit → all done", elapsed, "s",
                     done=done, not_done=lost, run=run, submit_wait=submit_wait, profiled=bool(spies),
                     load=os.getloadavg()[0], **used)


if __name__ == "__main__":
    main()
