"""What the leaderboard's time gaps cost the processor per state version, at 1,000,000 runners.

Field: a state an hour into a 10 km race on the demo course (speeds uniform 2-5 m/s, so about three quarters have
finished; checkpoint times filled as the processor fills them), six categories. For ``--rounds`` rounds: the CPU
time (process time, so a busy machine inflates it less than wall time) of the whole ranking of one version
(``rank_runners``: the sort, the ranks, the gaps) and of the gaps alone (``time_gaps``: overall and per category),
the median reported. A lookup of one runner after that reads one published value.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/race_gaps/run.py [--runners 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402
from _common import emit  # noqa: E402

from shipml.apps.race import demo  # noqa: E402
from shipml.apps.race.course import Course  # noqa: E402
from shipml.apps.race.processor import FINISHED, RaceProcessor  # noqa: E402
from shipml.apps.race.standings import rank_runners, time_gaps  # noqa: E402

NAME = "race_gaps"


def field(runners: int) -> RaceProcessor:
    lat, lon = demo.course_latlon()
    course = Course(lat, lon, checkpoint_every_m=2500.0)
    rng = np.random.default_rng(0)
    p = RaceProcessor(course, runners, start_t=0.0, categories=rng.integers(0, 6, runners),
                      category_names=tuple("abcdef"))
    speed = rng.uniform(2, 5, runners)
    covered = np.minimum(speed * 3600.0, course.length_m)
    p.progress_m[:] = covered
    p.progress_t[:] = covered / speed
    p.last_t[:] = 3600.0
    p.status[:] = 1
    for k, mark in enumerate(course.checkpoint_m):
        p.splits_s[:, k] = np.where(covered >= mark, mark / speed, np.nan)
    p.status[covered >= course.length_m] = FINISHED
    return p


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runners", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    p = field(args.runners)
    ranking_s, gaps_s = [], []
    for _ in range(args.rounds):
        started = time.process_time()
        r = rank_runners(p)
        ranking_s.append(time.process_time() - started)
        started = time.process_time()
        time_gaps(p, r.finish_s, r.order, r.ranked, r.category_order, r.rank)
        gaps_s.append(time.process_time() - started)
    finished = int((p.status == FINISHED).sum())
    emit(NAME, "ranking_cpu_per_version", statistics.median(ranking_s) * 1000, "ms", runners=args.runners,
         finished=finished, rounds=args.rounds)
    emit(NAME, "gaps_cpu_per_version", statistics.median(gaps_s) * 1000, "ms", runners=args.runners,
         finished=finished, rounds=args.rounds)


if __name__ == "__main__":
    main()
