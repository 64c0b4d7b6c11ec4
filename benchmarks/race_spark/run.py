"""The race's Spark path against the embedded processor, on the same stored raw pings, each from scratch.

Two stored races are written once (simulated, no HTTP) under a temporary home:

* ``large``: ``--runners`` runners for ``--minutes`` of race time, one raw file per ``--every-s`` race seconds
  (at 10,000 runners and 20 s: about 20,000 pings a file, as the group commit writes them under load);
* ``small``: ``--small-files`` files of a few hundred pings each (1,000 runners, a file every 4 race seconds), the
  shape a quiet race leaves (one file per request).

Each figure comes from a fresh process: the embedded processor (``RaceWorker`` stepping over the files, as the
service does), then the Spark path (``spark_standings``: Structured Streaming, ``availableNow``) on ``local[1]``
and ``local[2]``, and, unless ``--skip cluster``, on a standalone cluster (``tests/spark_cluster.py``) of one, then
two workers of 1 core each. Spark's session start is timed apart and left out of the throughput. Every Spark run
is checked against the embedded answer (standings order and ranks, every runner's state arrays, the counts): a run
whose answer differs says so in its figure (``same: false``).

Per core = pings/s divided by the cores Spark was given (1, 2; the driver's own work is extra); also reported:
CPU seconds of the whole process tree (driver, JVM, Python workers) per ping. The machine may be shared: the load
average is printed with every figure, and the ratios that matter are those measured in the same run.

    .venv/bin/python benchmarks/race_spark/run.py [--runners 10000] [--minutes 30] [--skip cluster,small]
        [--before /tmp/old/src]   # git archive REV src | tar -x -C /tmp/old: the older Spark path, same run
        [--keep | --reuse FOLDER]  # keep the stored races; measure a kept folder's races again (not rewritten)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parents[2] / "tests"))
from _common import emit  # noqa: E402

NAME = "race_spark"
SPEEDUP = 200.0

WRITE = """
import sys
import numpy as np, polars as pl
from shipml.apps.race import rawlog, tasks
from shipml.apps.race.simulate import DEFAULT_FIT, Simulator
name, runners, minutes, every_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
race = tasks.define_simulated(name, runners, float(sys.argv[5]), lead_s=0.0)
gun, origin = race.definition.start.timestamp(), race.definition.clock_origin.timestamp()
sim = Simulator(race.course, race.participants["device"].to_list(), gun, api_url="http://unused", race=name,
                fit=dict(DEFAULT_FIT), seed=21)
files = pings = 0
for race_now in np.arange(gun + every_s, gun + minutes * 60 + every_s / 2, every_s):
    cols = sim.pings_until(float(race_now))
    n = cols["t"].size
    if not n:
        continue
    received = origin + (race_now - origin) / float(sys.argv[5])
    rawlog.write_file(name, pl.DataFrame({
        "device": cols["device"].astype(str), "t": cols["t"], "lat": cols["lat"], "lon": cols["lon"],
        "ele": [None] * n, "hr": cols["hr"], "received": np.full(n, received), "source": ["bench"] * n,
        "kind": np.zeros(n, dtype=np.int8)}, schema=rawlog.RAW_SCHEMA))
    files, pings = files + 1, pings + n
    if files == 3:
        from shipml.apps.race import ingest
        ingest.command(race, race.participants["bib"][0], dnf=True)  # an admin DNF in the stream
print(files, pings)
"""

EMBEDDED = """
import json, sys, time
import numpy as np
from shipml.apps.race import definition
from shipml.apps.race.live import RaceWorker
from shipml.apps.race.standings import Standings
race = definition.load(sys.argv[1])
t0, c0 = time.perf_counter(), time.process_time()
worker, pings = RaceWorker(race), 0
while (n := worker.step(settle_s=0.0)):
    pings += n
s = Standings(worker.processor)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
p = worker.processor
np.savez(sys.argv[2], order=s.order, rank=s.rank, progress_m=p.progress_m, progress_t=p.progress_t,
         last_t=p.last_t, status=p.status, speed_mps=p.speed_mps, splits_s=p.splits_s, trail_m=p.trail_m,
         counts=np.array(json.dumps([p.accepted, p.rejected, p.ignored, p.clock])))
print(json.dumps({"pings": pings, "wall_s": wall, "cpu_s": cpu}))
"""

SPARK = """
import json, os, sys, time
sys.path.insert(0, sys.argv[4])
import numpy as np
from _common import tree_cpu_s
from shipml.apps.race import definition
from shipml.apps.race.spark_path import spark_standings
from shipml.core.spark import session
race = definition.load(sys.argv[1])
also = [int(pid) for pid in sys.argv[5].split(",") if pid]  # a cluster's daemons: their executors' CPU too
def cpu_s():
    return sum(tree_cpu_s(pid) for pid in [os.getpid(), *also])
t0 = time.perf_counter()
session("shipml-race").range(1).count()
start_s = time.perf_counter() - t0
t0, c0 = time.perf_counter(), cpu_s()
s = spark_standings(race, partitions=int(sys.argv[3]))
wall, cpu = time.perf_counter() - t0, cpu_s() - c0
t0, c0 = time.perf_counter(), cpu_s()
spark_standings(race, partitions=int(sys.argv[3]))  # again in the same session: warm (JIT, Python workers up)
warm_wall, warm_cpu = time.perf_counter() - t0, cpu_s() - c0
q, e = s.processor, np.load(sys.argv[2])
different = [name for name in ("progress_m", "progress_t", "last_t", "status", "speed_mps", "splits_s", "trail_m")
             if not np.array_equal(getattr(q, name), e[name], equal_nan=True)]
if not (np.array_equal(s.order, e["order"]) and np.array_equal(s.rank, e["rank"])):
    different.append("standings")
if json.dumps([q.accepted, q.rejected, q.ignored, q.clock]) != str(e["counts"]):
    different.append("counts")
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "warm_wall_s": warm_wall, "warm_cpu_s": warm_cpu,
                  "session_start_s": start_s, "different": different}))
"""


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_json(code: str, args: list[str], env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        causes = [line for line in out.stderr.splitlines() if "Error" in line or "Caused by" in line]
        raise RuntimeError(f"{args}: exit {out.returncode}\n" + "\n".join(causes[:40]) + out.stderr[-2000:])
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPML_", "SPARK_", "PYSPARK_"))}
    return {**env, "SHIPML_HOME": str(home), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def write_race(home: Path, name: str, runners: int, minutes: float, every_s: float) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", WRITE, name, str(runners), str(minutes), str(every_s),
                          str(SPEEDUP)], env=base_env(home), capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"writing race {name}: exit {out.returncode}\n{out.stderr[-4000:]}")
    files, pings = out.stdout.split()[-2:]
    return int(files), int(pings)


def spark_figure(label: str, race: str, env: dict[str, str], reference: Path, partitions: int, cores: int,
                 embedded: dict[str, object], pings: int, extra_cpu: list[int] | None = None,
                 **info: object) -> dict[str, object]:
    r = run_json(SPARK, [race, str(reference), str(partitions), str(HERE.parents[1]),
                         ",".join(str(pid) for pid in extra_cpu or [])], env)
    f = {k: float(v) for k, v in r.items() if k.endswith("_s")}  # type: ignore[arg-type]
    embedded_rate = pings / float(embedded["wall_s"])  # type: ignore[arg-type]
    embedded_cpu = float(embedded["cpu_s"])  # type: ignore[arg-type]
    for run, prefix in (("first query of the process", ""), ("same query again, warm", "warm_")):
        rate = pings / f[f"{prefix}wall_s"]
        emit(NAME, f"{race}: Spark {label}, {run}", rate, "pings/s", per_core=round(rate / cores), cores=cores,
             per_core_over_embedded=round(rate / cores / embedded_rate, 3),
             cpu_us_per_ping=round(f[f"{prefix}cpu_s"] / pings * 1e6, 2),
             cpu_over_embedded=round(f[f"{prefix}cpu_s"] / embedded_cpu, 1), wall_s=round(f[f"{prefix}wall_s"], 1),
             session_start_s=round(f["session_start_s"], 1), same=not r["different"], different=r["different"],
             pings=pings, partitions=partitions, load=load_average(), **info)
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runners", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=30.0, help="race minutes of pings in the large race")
    parser.add_argument("--every-s", type=float, default=20.0, help="race seconds of pings per raw file (large)")
    parser.add_argument("--small-files", type=int, default=450)
    parser.add_argument("--partitions", type=int, default=4, help="the Spark path's groups of runners")
    parser.add_argument("--skip", default="", help="comma list of: small,large,local1,local2,cluster")
    parser.add_argument("--before", type=Path, help="a copy of an older src/ folder (git archive REV src): its Spark "
                        "path measured too, in the same run, labelled 'before'")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home (its path is printed)")
    parser.add_argument("--reuse", type=Path, help="a folder kept by --keep: its stored races, not written again")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    base = args.reuse or Path(tempfile.mkdtemp(prefix="shipml-race-spark-bench-"))
    home = base / "home"
    races = {"large": (args.runners, args.minutes, args.every_s),
             "small": (1_000, args.small_files * 4.0 / 60.0, 4.0)}
    try:
        for race, (runners, minutes, every_s) in races.items():
            if race in skip:
                continue
            t0 = time.perf_counter()
            if args.reuse:
                files = len(list((home / "race" / race / "raw").glob("*/*.arrow")))
                print(f"# {race}: {files} raw files (stored before), load {load_average()}", flush=True)
            else:
                files, pings = write_race(home, race, runners, minutes, every_s)
                print(f"# {race}: {files} raw files, {pings:,} pings, {runners:,} runners, written in "
                      f"{time.perf_counter() - t0:.0f} s; load {load_average()}", flush=True)
            reference = base / f"{race}-embedded.npz"
            embedded = run_json(EMBEDDED, [race, str(reference)], base_env(home))
            stored = int(embedded["pings"])  # type: ignore[arg-type]
            emit(NAME, f"{race}: embedded processor", stored / float(embedded["wall_s"]), "pings/s",  # type: ignore[arg-type]
                 cpu_us_per_ping=round(float(embedded["cpu_s"]) / stored * 1e6, 2), files=files,  # type: ignore[arg-type]
                 pings=stored, runners=runners, load=load_average())
            for cores in (1, 2):
                if f"local{cores}" in skip:
                    continue
                env = {**base_env(home), "SHIPML_SPARK_MASTER": f"local[{cores}]"}
                spark_figure(f"local[{cores}]", race, env, reference, args.partitions, cores, embedded, stored,
                             files=files, runners=runners)
                if args.before:
                    spark_figure(f"local[{cores}], before", race, {**env, "PYTHONPATH": str(args.before.resolve())},
                                 reference, args.partitions, cores, embedded, stored, files=files, runners=runners)
            if "cluster" not in skip:
                on_cluster(base, home, race, reference, args.partitions, embedded, stored, files, runners)
    finally:
        if args.keep or args.reuse:
            print(f"# kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def on_cluster(base: Path, home: Path, race: str, reference: Path, partitions: int, embedded: dict[str, object],
               pings: int, files: int, runners: int) -> None:
    """The same pings on a standalone cluster of one worker, then two (1 core, 1 GB each)."""
    from spark_cluster import standalone_cluster

    for workers in (1, 2):
        with standalone_cluster(workers=workers) as cluster:
            shared_home = cluster.shared / "home"
            (shared_home / "race").mkdir(parents=True)
            shutil.copytree(home / "race" / race, shared_home / "race" / race)
            env = {**base_env(shared_home), "SHIPML_SPARK_MASTER": cluster.master_url,
                   "SHIPML_SPARK_DRIVER_HOST": cluster.host, "SHIPML_SPARK_BIND_ADDRESS": cluster.host,
                   "SHIPML_SPARK_CHECKPOINT": f"file://{cluster.shared}/checkpoints",
                   # the workers share this host's address but not their /tmp (each its own mount namespace): an
                   # executor must fetch the other's shuffle files from it, not read them from "the same host's" disk
                   "PYSPARK_SUBMIT_ARGS": "--conf spark.shuffle.readHostLocalDisk=false pyspark-shell"}
            spark_figure(f"standalone, {workers} worker(s) of 1 core", race, env, reference, partitions, workers,
                         embedded, pings, extra_cpu=[p.pid for p in cluster.procs], files=files, runners=runners,
                         workers_isolated=cluster.isolated)


if __name__ == "__main__":
    main()
