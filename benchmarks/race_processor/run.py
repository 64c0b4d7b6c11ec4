"""The race stream processor alone, with the state of 1,000,000 runners: pings applied per second on one core.

Course: the real 102 km Craze Ultra route (shared data) when present, else a generated 42 km course with an
out-and-back. Runners hold their own steady pace (2.2–4.5 m/s) and ping every 10 s with their own phase, with
4 m of GPS noise; pings are generated outside the timed part. The state starts an hour into the race (set
directly, as the processor would hold it); the timed part applies micro-batches as a live race gives them:
1 s of pings (100,000) per batch, and also 10 s (1,000,000) per batch.

Throughput is given per wall-clock second and per CPU second of the process (numpy runs these operations on one
thread, so CPU time is one core's time; it is the fairer figure on a shared machine). Also reported: the standings
build (a full ranking) and a leaderboard page at 1,000,000 runners.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/race_processor/run.py [--runners N] [--cycles C]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402
from _common import SHARED, emit  # noqa: E402

from shipml.apps.race.course import Course  # noqa: E402
from shipml.apps.race.pings import PingBatch  # noqa: E402
from shipml.apps.race.processor import RaceProcessor  # noqa: E402
from shipml.apps.race.standings import Standings  # noqa: E402

NAME = "race_processor"
ROUTE = SHARED / "race" / "tracks_arbatov" / "RouteBstd.gpx"
GUN = 1_700_000_000.0
PING_EVERY_S = 10


def generated_course() -> Course:
    """A 42 km course: out 10 km east, back, then a loop, around 48.85 N (synthetic)."""
    east = np.linspace(0, 10_000, 201)
    x = np.concatenate([east, east[::-1][1:], 6_000 * np.sin(np.linspace(0, 2 * np.pi, 400)) * 0.5])
    y = np.concatenate([np.zeros(201), np.full(200, 30.0), 3_000 * (1 - np.cos(np.linspace(0, 2 * np.pi, 400)))])
    lat = 48.85 + y / 111_200
    lon = 2.35 + x / (111_320 * np.cos(np.radians(48.85)))
    return Course(lat, lon, name="generated")


def pings_at(course: Course, runner: np.ndarray, t: np.ndarray, speed: np.ndarray,
             rng: np.random.Generator) -> PingBatch:
    distance = np.minimum(speed[runner] * (t - GUN), course.length_m * 0.999)
    x, y = course.xy_at(distance)
    lat, lon = course.unproject(x + rng.normal(0, 4, x.size), y + rng.normal(0, 4, y.size))
    return PingBatch.of(runner, t, lat, lon, np.full(runner.size, 150.0), t + 0.5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runners", type=int, default=1_000_000)
    parser.add_argument("--cycles", type=int, default=3, help="10-s ping cycles timed per batch size")
    args = parser.parse_args()
    n = args.runners
    rng = np.random.default_rng()
    course = Course.from_file(ROUTE) if ROUTE.is_file() else generated_course()
    speed = rng.uniform(2.2, 4.5, n)
    phase = rng.integers(0, PING_EVERY_S, n)
    processor = RaceProcessor(course, n, start_t=GUN)
    race_t = 3_600  # an hour in: the field is spread over ~8 to 16 km

    def second_of_pings(second: int) -> PingBatch:
        runner = np.flatnonzero(phase == second % PING_EVERY_S)
        rng.shuffle(runner)
        return pings_at(course, runner, GUN + second + rng.uniform(0, 1, runner.size), speed, rng)

    # the state an hour into the race, as the processor holds it (each runner's last ping 0-9 s ago): building it
    # by processing a first ping per runner an hour after the gun would take every runner through the slow path
    last = race_t - PING_EVERY_S + phase
    processor.progress_m[:] = np.minimum(speed * (last - 0.5), course.length_m * 0.999)
    processor.last_x[:], processor.last_y[:] = course.xy_at(processor.progress_m)
    processor.last_t[:] = GUN + last - 0.5
    processor.progress_t[:] = processor.last_t
    processor.speed_mps[:] = speed
    processor.status[:] = 1
    processor.splits_s[:, 0] = np.where(processor.progress_m >= 5000, 5000 / speed, np.nan)
    processor.splits_s[:, 1] = np.where(processor.progress_m >= 10000, 10000 / speed, np.nan)
    extra = {"runners": n, "course": course.name, "course_km": round(course.length_m / 1000, 1)}

    for seconds_per_batch in (1, PING_EVERY_S):
        batches = []
        for start in range(race_t, race_t + args.cycles * PING_EVERY_S, seconds_per_batch):
            parts = [second_of_pings(s) for s in range(start, start + seconds_per_batch)]
            batches.append(PingBatch(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                                       ("runner", "t", "lat", "lon", "hr", "received"))))
        race_t += args.cycles * PING_EVERY_S
        applied, elapsed, cpu = 0, 0.0, 0.0
        rejected = 0
        for batch in batches:
            began, began_cpu = time.perf_counter(), time.process_time()
            report = processor.process(batch)
            elapsed += time.perf_counter() - began
            cpu += time.process_time() - began_cpu
            applied += len(batch)
            rejected += sum(report.rejected.values())
        label = f"{len(batches[0]):,}-ping batches ({seconds_per_batch} s of race)"
        details = {"batch_pings": len(batches[0]), "batches": len(batches), "rejected": rejected,
                   "load_average": os.getloadavg()[0], **extra}
        emit(NAME, f"pings applied per wall-clock second, {label}", applied / elapsed, "pings/s", goal=1_000_000,
             **details)
        emit(NAME, f"pings applied per CPU second of the process (one core), {label}", applied / cpu, "pings/s",
             goal=1_000_000, **details)

    began = time.perf_counter()
    table = Standings(processor)
    emit(NAME, "standings build (full ranking, overall and per category)", (time.perf_counter() - began) * 1000,
         "ms", **extra)
    timings = []
    for _ in range(50):
        began = time.perf_counter()
        table.page(limit=100, offset=int(rng.integers(0, 1000)))
        timings.append((time.perf_counter() - began) * 1000)
    emit(NAME, "leaderboard page of 100 from built standings, p99 of 50", float(np.percentile(timings, 99)), "ms",
         **extra)
    emit(NAME, "peak memory of the benchmark process (state + generated pings)",
         resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MiB", **extra)


if __name__ == "__main__":
    main()
