"""The standings of each state version at 1,000,000 runners: the incremental update against a full build, and the
publication of a version.

Field: 1,000,000 runners 45 minutes into a 10 km race on the demo course (steady speeds 1.5-4.5 m/s, so about
half have finished), six categories, the state set directly as the processor holds it. Each round is one cycle of
the service: pings of a share of the runners still out there (10 %, 1 %) go through ``RaceProcessor.process`` (not
timed), then the ranking of the new version is made both ways from the same state: ``RankingKeeper.rank`` (the
changed runners merged into the last order) and ``rank_runners`` (the full sort); both include ranks, category
ranks and gaps. Every round checks that the two are equal (order, ranks, category ranks, gaps). CPU time of this
process, median over the rounds; the load average is printed beside each figure (the machine is shared).

Publication (into a scratch folder under the system's temporary folder): ``publish`` writes every array of the version
into a new folder; with ``previous`` it hard-links the files of the arrays unchanged since the last publication.
Wall time, median over the rounds, on the same versions.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/race_standings/run.py [--runners N] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402
from _common import emit  # noqa: E402

from shipml.apps.race import demo  # noqa: E402
from shipml.apps.race.course import Course  # noqa: E402
from shipml.apps.race.pings import PingBatch  # noqa: E402
from shipml.apps.race.processor import FINISHED, RUNNING, RaceProcessor  # noqa: E402
from shipml.apps.race.publish import Publication, publish  # noqa: E402
from shipml.apps.race.ranking_update import RankingKeeper  # noqa: E402
from shipml.apps.race.standings import Ranking, Standings, rank_runners  # noqa: E402

NAME = "race_standings"
RACE_T = 2_700.0  # 45 minutes in


def field(runners: int, rng: np.random.Generator) -> tuple[RaceProcessor, np.ndarray]:
    lat, lon = demo.course_latlon()
    course = Course(lat, lon, checkpoint_every_m=2500.0)
    p = RaceProcessor(course, runners, start_t=0.0, categories=rng.integers(0, 6, runners),
                      category_names=tuple("abcdef"))
    speed = rng.uniform(1.5, 4.5, runners)
    last = RACE_T - rng.uniform(0, 10, runners)
    covered = np.minimum(speed * last, course.length_m)
    p.progress_m[:] = covered
    p.progress_t[:] = np.minimum(last, covered / speed)
    p.last_t[:] = p.progress_t
    p.last_x[:], p.last_y[:] = course.xy_at(covered)
    p.speed_mps[:] = speed
    p.status[:] = RUNNING
    for k, mark in enumerate(course.checkpoint_m):
        p.splits_s[:, k] = np.where(covered >= mark, mark / speed, np.nan)
    p.status[covered >= course.length_m] = FINISHED
    p.clock = RACE_T
    return p, speed


def pings(p: RaceProcessor, speed: np.ndarray, share: float, t: float, rng: np.random.Generator) -> PingBatch:
    """One ping from each of ``share`` of all runners, chosen among those still out there, taken at ``t``."""
    out_there = np.flatnonzero(p.status == RUNNING)
    runner = rng.choice(out_there, min(out_there.size, int(share * p.runners)), replace=False)
    distance = np.minimum(speed[runner] * t, p.course.length_m)
    x, y = p.course.xy_at(distance)
    lat, lon = p.course.unproject(x + rng.normal(0, 4, x.size), y + rng.normal(0, 4, y.size))
    return PingBatch.of(runner, np.full(runner.size, t), lat, lon, np.full(runner.size, 150.0),
                        np.full(runner.size, t + 0.5))


def same(a: Ranking, b: Ranking) -> bool:
    return bool((a.order == b.order).all() and a.ranked == b.ranked and (a.rank == b.rank).all()
                and (a.category_rank == b.category_rank).all()
                and all(np.array_equal(x, y, equal_nan=True) for x, y in
                        ((a.gap_s, b.gap_s), (a.category_gap_s, b.category_gap_s))))


def cpu_ms(work, *args):  # type: ignore[no-untyped-def]
    began = time.process_time()
    out = work(*args)
    return out, (time.process_time() - began) * 1000


def wall_ms(work, *args, **kwargs):  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    out = work(*args, **kwargs)
    return out, (time.perf_counter() - began) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runners", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    p, speed = field(args.runners, rng)
    keeper = RankingKeeper()
    keeper.rank(p)
    t = RACE_T
    scratch = Path(tempfile.mkdtemp(prefix="race_standings_"))
    # publish() reads only the race's folder and definition digest: a stand-in, not a defined race of 1M runners
    in_full = SimpleNamespace(folder=scratch / "full", definition=SimpleNamespace(digest="benchmark"))
    linking = SimpleNamespace(folder=scratch / "linked", definition=SimpleNamespace(digest="benchmark"))
    publication = Publication()
    for share in (0.10, 0.01):
        update_ms, full_ms, written_ms, linked_ms, equal = [], [], [], [], True
        for _ in range(args.rounds):
            t += 1.0
            report = p.process(pings(p, speed, share, t, rng))
            changed = report.accepted
            updated, ms = cpu_ms(keeper.rank, p)
            update_ms.append(ms)
            full, ms = cpu_ms(rank_runners, p)
            full_ms.append(ms)
            equal = equal and same(updated, full)
            table = Standings(p, updated)
            written_ms.append(wall_ms(publish, in_full, p, table, {})[1])
            linked_ms.append(wall_ms(publish, linking, p, table, {}, previous=publication)[1])
        extra = {"runners": p.runners, "share_changed": share, "changed_last_round": changed,
                 "finished": int((p.status == FINISHED).sum()), "rounds": args.rounds, "equal_to_full": equal,
                 "load_average": os.getloadavg()[0]}
        emit(NAME, f"ranking update, {share:.0%} of runners changed (CPU, median)", statistics.median(update_ms),
             "ms", **extra)
        emit(NAME, "full ranking on the same versions (CPU, median)", statistics.median(full_ms), "ms", **extra)
        emit(NAME, "publication, every array written (wall, median)", statistics.median(written_ms), "ms", **extra)
        emit(NAME, "publication, unchanged arrays hard-linked (wall, median)", statistics.median(linked_ms), "ms",
             linked=publication.linked, **extra)
    shutil.rmtree(scratch, ignore_errors=True)

if __name__ == "__main__":
    main()
