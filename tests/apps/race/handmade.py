"""A small hand-made course with an out-and-back and two laps, and a race on it whose answers are worked by hand.

The course, in metres east (x) and north (y) of a point near Zurich:

    S (0, 0) → A (1000, 0)                      0 – 1000 m
    A → B (1000, 500), back B → A               1000 – 2000 m   out-and-back on the same line, turnaround B
    lap: A → (1000, -500) → (1500, -500)        2000 – 3000 m
         → (1500, 0) → A                        3000 – 4000 m
    the same lap again                          4000 – 6000 m   finish at A

Checkpoints every kilometre: "1 km" … "5 km", then "Finish" at 6000 m. The point A is passed at 1000, 2000,
4000 and 6000 m; every point of the out-and-back twice; every point of the lap twice.
"""

from __future__ import annotations

import numpy as np
from pyproj import Transformer

from shipml.apps.race.course import Course
from shipml.apps.race.pings import PingBatch
from shipml.apps.race.processor import RaceProcessor
from shipml.apps.race.rules import RaceRules

GUN = 1_700_000_000.0
VERTICES = [(0, 0), (1000, 0), (1000, 500), (1000, 0), (1000, -500), (1500, -500), (1500, 0), (1000, 0),
            (1000, -500), (1500, -500), (1500, 0), (1000, 0)]
_TO_DEGREES = Transformer.from_crs("+proj=tmerc +lat_0=47.37 +lon_0=8.54 +k=1 +ellps=WGS84 +units=m", "EPSG:4326",
                                   always_xy=True)


def latlon(x: float | np.ndarray, y: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _TO_DEGREES.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lat), np.asarray(lon)


def point_at(distance: float) -> tuple[float, float]:
    """The point of the hand-made course at a distance along it (the test's own arithmetic, not the app's)."""
    walked = 0.0
    for (x0, y0), (x1, y1) in zip(VERTICES, VERTICES[1:], strict=False):
        leg = abs(x1 - x0) + abs(y1 - y0)  # every leg is axis-aligned
        if distance <= walked + leg:
            f = (distance - walked) / leg
            return x0 + f * (x1 - x0), y0 + f * (y1 - y0)
        walked += leg
    raise ValueError(distance)


def make_course() -> Course:
    lat, lon = latlon([v[0] for v in VERTICES], [v[1] for v in VERTICES])
    return Course(lat, lon, name="hand-made", checkpoint_every_m=1000.0)


#: pings as (seconds after the gun, metres along the course), worked out by hand
ANA = [(60, 300), (120, 700), (200, 1100), (300, 1500), (400, 1950), (500, 2350), (600, 2800), (700, 3300),
       (800, 3800), (900, 4300), (1000, 4800), (1100, 5300), (1200, 5800), (1250, 6000)]
EVE = [(t + 50, d) for t, d in ANA]
BEN = [(100, 300), (200, 600), (300, 1000), (400, 1400), (450, 1500), (500, 1600), (600, 1900), (700, 2300),
       (800, 2450)]
CLEO = [(100, 350), (200, 700)]
RUNNERS = ("ana", "ben", "cleo", "dan", "eve")
CATEGORIES = (0, 1, 1, 1, 0)  # W, M
ANA_I, BEN_I, CLEO_I, DAN_I, EVE_I = range(5)

#: the answers, by hand
ANA_SPLITS = [180.0, 412.5, 640.0, 840.0, 1040.0, 1250.0]  # 1 km at 120 + 80·300/400, 2 km at 400 + 100·50/400 …
BEN_SPLITS = [300.0, 625.0]  # 1 km pinged exactly; 2 km between 1900 m at 600 s and 2300 m at 700 s: 600 + 100·100/400


def ping_rows(runner: int, plan: list[tuple[float, float]]) -> list[tuple[int, float, float, float]]:
    """(runner, t, x, y) rows of a plan."""
    return [(runner, GUN + t, *point_at(d)) for t, d in plan]


def race_rows() -> list[tuple[int, float, float, float]]:
    """Every good ping of the race, in time order (ties: runner order)."""
    rows = ping_rows(ANA_I, ANA) + ping_rows(BEN_I, BEN) + ping_rows(CLEO_I, CLEO) + ping_rows(EVE_I, EVE)
    return sorted(rows, key=lambda r: (r[1], r[0]))


def batch(rows: list[tuple[int, float, float, float]], received: list[float] | None = None,
          hr: float = 150.0) -> PingBatch:
    runner = [r[0] for r in rows]
    lat, lon = latlon([r[2] for r in rows], [r[3] for r in rows])
    return PingBatch.of(runner, [r[1] for r in rows], lat, lon, np.full(len(rows), hr), received)


def new_processor(course: Course, rules: RaceRules | None = None) -> RaceProcessor:
    return RaceProcessor(course, len(RUNNERS), start_t=GUN, rules=rules, categories=CATEGORIES,
                         category_names=("W", "M"))
