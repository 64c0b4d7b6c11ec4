"""One cycle of the race processor service at 1,000,000 runners, taken apart: read the new raw files, process,
rank, publish; with the bytes a publication writes and links.

A race of ``--runners`` runners is defined in a scratch home (started 30 minutes ago, the demo course), every runner
is seen once (warm-up, not timed), then each round stores ``--pings`` pings as raw files of 10,000 (as the batch
endpoint does at 120,000 pings/s: one file per request, the e2e benchmark's field: each runner pings its position
at its own steady speed, in turn) and runs one cycle of :class:`~shipml.apps.race.live.RaceWorker` (step, then
publish) as the service does. Wall and CPU time per part, median over the rounds; the load average beside it.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/race_cycle/run.py [--runners N] [--pings P] [--rounds R]
        [--profile]   (cProfile of the last round's cycle, top 25 by cumulative time, to stderr)
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
HOME = Path(os.environ["SHIPML_HOME"]) if "--writer" in sys.argv else Path(tempfile.mkdtemp(prefix="race_cycle_"))
os.environ["SHIPML_HOME"] = str(HOME)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from _common import emit  # noqa: E402

from shipml.apps.race import definition, demo, publish, rawlog  # noqa: E402
from shipml.apps.race.definition import RaceDefinition  # noqa: E402
from shipml.apps.race.live import RaceWorker  # noqa: E402
from shipml.apps.race.standings import Standings  # noqa: E402

NAME = "race_cycle"


class Field:
    def __init__(self, race: definition.Race, gun: float) -> None:
        rng = np.random.default_rng(0)
        self.course, self.rng, self.gun = race.course, rng, gun
        self.runners = race.runners
        self.speed = rng.uniform(2.2, 4.0, self.runners)
        self.devices = np.asarray(race.participants["device"].to_list())
        self.cursor = 0

    def frame(self, n: int) -> pl.DataFrame:
        idx = (self.cursor + np.arange(n)) % self.runners
        self.cursor = (self.cursor + n) % self.runners
        now = time.time()
        d = np.minimum(self.speed[idx] * (now - self.gun), self.course.length_m - 10)
        x, y = self.course.xy_at(d)
        lat, lon = self.course.unproject(x + self.rng.normal(0, 4, n), y + self.rng.normal(0, 4, n))
        return pl.DataFrame({"device": self.devices[idx], "t": np.full(n, now), "lat": lat, "lon": lon,
                             "ele": np.full(n, np.nan), "hr": np.full(n, np.nan), "received": np.full(n, now),
                             "source": ["batch"] * n, "kind": np.zeros(n, dtype=np.int8)})

    def store(self, race: str, pings: int, per_file: int = 10_000) -> None:
        for first in range(0, pings, per_file):
            rawlog.write_file(race, self.frame(min(per_file, pings - first)))


def folder_bytes(folder: Path) -> tuple[int, int]:
    """Bytes of a folder's files: (written here, hard-linked from another folder)."""
    written = linked = 0
    for f in folder.iterdir():
        st = f.stat()
        if st.st_nlink > 1:
            linked += st.st_size
        else:
            written += st.st_size
    return written, linked


def timed(work, *args, **kwargs):  # type: ignore[no-untyped-def]
    w, c = time.perf_counter(), time.process_time()
    out = work(*args, **kwargs)
    return out, (time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000


def cycle(worker: RaceWorker, parts: dict[str, list[float]]) -> None:
    """One service cycle (RaceWorker.step, then RaceWorker.publish), part by part."""
    far = time.time_ns() // 1000 + 10**9
    files = rawlog.new_files(worker.race.name, worker.processor.offset, far)
    frame, w, c = timed(rawlog.read_files, files)
    parts["read wall"].append(w)
    parts["read cpu"].append(c)
    _, w, c = timed(worker.apply, frame, rawlog.key_of(files[-1]))
    parts["process wall"].append(w)
    parts["process cpu"].append(c)
    p = worker.processor
    ranking, w, c = timed(worker.keeper.rank, p)
    parts["rank wall"].append(w)
    parts["rank cpu"].append(c)
    worker.standings = Standings(p, ranking)
    folder, w, c = timed(publish.publish, worker.race, p, worker.standings, {"restorable": True},
                         previous=worker.publication)
    worker.published_version = p.version
    parts["publish wall"].append(w)
    parts["publish cpu"].append(c)
    written, linked = folder_bytes(folder)
    parts["written MB"].append(written / 1e6)
    parts["linked MB"].append(linked / 1e6)
    _, w, c = timed(publish.current, worker.race)  # the API's version check and first map of a new version
    parts["reader open wall"].append(w)


def writer(runners: int, rate: int, seconds: float, gun: float) -> None:
    """The ``--writer`` child: ``rate`` pings/s as files of 10,000 (one per batch request), for ``seconds``."""
    race = definition.load("bench")
    field = Field(race, gun)
    per_s = rate / 10_000
    began = time.monotonic()
    k = 0
    while (due := began + k / per_s) < began + seconds:
        time.sleep(max(0.0, due - time.monotonic()))
        rawlog.write_file("bench", field.frame(10_000))
        k += 1


def live(race: definition.Race, rate: int, seconds: float, gun: float) -> None:
    """The service loop (as ``run_processor``) while another process stores ``rate`` pings/s: each file's lag from
    its key (the moment it became visible, just before its pings are acknowledged) to the publication of a version
    that holds it."""
    from shipml.apps.race.live import ProcessorService
    from shipml.apps.race.settings import settings

    service = ProcessorService()
    service.refresh()
    worker = service.workers["bench"]
    began = time.time()
    child = subprocess.Popen([sys.executable, __file__, "--writer", str(rate), "--seconds", str(seconds),
                              "--gun", str(gun), "--runners", str(race.runners)], env=os.environ)
    published: list[tuple[float, int]] = []  # (when, last key in it)
    cycle_ms: list[float] = []
    part_ms: dict[str, list[float]] = {"step": [], "publish": [], "save": []}
    cpu0, wall0 = time.process_time(), time.monotonic()
    period = settings().batch_seconds
    while child.poll() is None or rawlog.new_files("bench", worker.processor.offset, 2**62):
        tick = time.monotonic()
        for part in ("step", "publish", "save"):  # what service.step() does for each race
            part_began = time.monotonic()
            getattr(worker, part)()
            part_ms[part].append((time.monotonic() - part_began) * 1000)
        if worker.published_version >= 0 and (not published or published[-1][1] != worker.processor.offset):
            published.append((time.time(), worker.processor.offset))
            cycle_ms.append((time.monotonic() - tick) * 1000)
        time.sleep(max(0.0, period - (time.monotonic() - tick)))
    cores = (time.process_time() - cpu0) / (time.monotonic() - wall0)
    files = sorted(rawlog.new_files("bench", 0, 2**62), key=rawlog.key_of)
    keys = np.array([rawlog.key_of(f) / 1e6 for f in files])
    when = np.array([w for w, _ in published])
    upto = np.array([k / 1e6 for _, k in published])
    first = np.searchsorted(upto, keys, side="left")  # the first publication whose last key is at or after it
    first = first[first < upto.size]
    lags = when[first] - keys[:first.size]
    # the live run's files after its first 20 s: the service restores, makes a full ranking and writes every
    # file once when it starts, and the writer loads the race first
    lags = lags[keys[:first.size] > began + 20]
    extra = {"runners": race.runners, "rate": rate, "seconds": seconds, "files": int(lags.size),
             "load_average": round(os.getloadavg()[0], 2), "processor_cores": round(cores, 2)}
    emit(NAME, "live: lag file stored -> published, p50", float(np.percentile(lags, 50)), "s", **extra)
    emit(NAME, "live: lag file stored -> published, p99", float(np.percentile(lags, 99)), "s",
         max_s=round(float(lags.max()), 3), **extra)
    emit(NAME, "live: cycle wall (step+publish+save), p50 / p99", float(np.percentile(cycle_ms, 50)), "ms",
         p99_ms=round(float(np.percentile(cycle_ms, 99))), cycles=len(cycle_ms), **extra)
    for part, values in part_ms.items():
        emit(NAME, f"live: {part} wall, p50 / p99 / max", float(np.percentile(values, 50)), "ms",
             p99_ms=round(float(np.percentile(values, 99))), max_ms=round(max(values)), **extra)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writer", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--gun", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--live", type=int, default=0, help="pings/s stored by another process (0: no live run)")
    parser.add_argument("--seconds", type=float, default=60.0, help="of the live run")
    parser.add_argument("--runners", type=int, default=1_000_000)
    parser.add_argument("--pings", type=int, default=120_000, help="pings stored per cycle")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.writer:
        writer(args.runners, args.writer, args.seconds, args.gun)
        return
    gun = datetime.now(UTC) - timedelta(minutes=30)
    definition.define(RaceDefinition(name="bench", title="bench", start=gun), demo.course_gpx().encode(),
                      definition.read_participants(demo.participants(args.runners)))
    race = definition.load("bench")
    field = Field(race, gun.timestamp())
    worker = RaceWorker(race)
    parts: dict[str, list[float]] = {}
    warm: dict[str, list[float]] = {k: [] for k in ("read wall", "read cpu", "process wall", "process cpu",
                                                    "rank wall", "rank cpu", "publish wall", "publish cpu",
                                                    "written MB", "linked MB", "reader open wall")}
    for _ in range(-(-args.runners // 500_000)):  # everyone seen once
        field.store(race.name, min(500_000, args.runners), per_file=50_000)
        cycle(worker, warm)
    parts = {k: [] for k in warm}
    profiler = cProfile.Profile()
    for k in range(args.rounds):
        field.store(race.name, args.pings)
        if args.profile and k == args.rounds - 1:
            profiler.enable()
        cycle(worker, parts)
        if args.profile and k == args.rounds - 1:
            profiler.disable()
    extra = {"runners": args.runners, "pings_per_cycle": args.pings, "rounds": args.rounds,
             "load_average": round(os.getloadavg()[0], 2)}
    for name, values in parts.items():
        emit(NAME, f"{name} (median)", statistics.median(values), "MB" if "MB" in name else "ms",
             values=[round(v, 1) for v in values], **extra)
    total = [sum(parts[f"{k} wall"][i] for k in ("read", "process", "rank", "publish")) for i in range(args.rounds)]
    emit(NAME, "cycle wall (median)", statistics.median(total), "ms", values=[round(v) for v in total], **extra)
    saves = [timed(worker.save, True)[1:] for _ in range(3)]  # every save_every_seconds (10 s) in the service
    emit(NAME, "state save, durable (wall, median of 3)", statistics.median(w for w, _ in saves), "ms",
         cpu_ms=round(statistics.median(c for _, c in saves)), size_mb=round(publish.live_dir(race).parent.joinpath(
             f"state-{race.definition.digest}.npz").stat().st_size / 1e6, 1), **extra)
    if args.profile:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
    if args.live:
        live(race, args.live, args.seconds, gun.timestamp())
    shutil.rmtree(HOME, ignore_errors=True)


if __name__ == "__main__":
    main()
