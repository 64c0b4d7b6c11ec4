"""The course shipped with the app (generated, so no licence question) and simulated participants.

The demo course is 10 km near Lausanne's lakeside, drawn in local metres: a 2.5 km out-and-back along a gently
winding road (the runners come back on the same line), then a 5 km loop, back to the start. It exercises what
real courses do to map matching: the same road in both directions, and a start area passed twice.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from pyproj import Transformer

from . import names

LAT0, LON0 = 46.5065, 6.6260
CATEGORIES = ("F20", "M20", "F40", "M40", "F60", "M60")
#: the share of each category in a city 10K (about 40 % women; most runners under 60, few over): a plausible field,
#: not a uniform one where a sixth of the runners are women over 60
CATEGORY_SHARES = (0.22, 0.27, 0.15, 0.24, 0.04, 0.08)
#: each category's pace relative to the men under 40 (rounded age-grading factors: women about 11 % slower, 40-59
#: about 5 %, 60 and over about 20 %), so the leaders are mostly young men and an F60 rarely wins outright
CATEGORY_PACE = (1.11, 1.0, 1.16, 1.05, 1.33, 1.2)


def _polyline(points: list[tuple[float, float]], step: float = 25.0) -> np.ndarray:
    out = []
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        n = max(int(np.hypot(x1 - x0, y1 - y0) // step), 1)
        f = np.arange(n) / n
        out.append(np.column_stack([x0 + f * (x1 - x0), y0 + f * (y1 - y0)]))
    out.append(np.array([points[-1]]))
    return np.concatenate(out)


def course_xy() -> np.ndarray:
    """The demo course in local metres (x east, y north of the start), about 10 km."""
    s = np.linspace(0, 2500, 101)
    out = np.column_stack([s, 120 * np.sin(s / 400.0)])  # winding road east, 2.5 km
    back = out[::-1][1:]  # the same road back to the start
    loop_corners = [(0.0, 0.0), (-300.0, 600.0), (-1200.0, 900.0), (-1800.0, 400.0), (-1500.0, -450.0),
                    (-700.0, -600.0), (0.0, 0.0)]
    loop = _polyline(loop_corners)
    return np.concatenate([out, back, loop[1:]])


def course_latlon() -> tuple[np.ndarray, np.ndarray]:
    xy = course_xy()
    to_degrees = Transformer.from_crs(f"+proj=tmerc +lat_0={LAT0} +lon_0={LON0} +k=1 +ellps=WGS84 +units=m",
                                      "EPSG:4326", always_xy=True)
    lon, lat = to_degrees.transform(xy[:, 0], xy[:, 1])
    return np.asarray(lat), np.asarray(lon)


def course_gpx(name: str = "Lakeside 10K (generated demo course)") -> str:
    """The demo course as a GPX route."""
    lat, lon = course_latlon()
    points = "\n".join(f'    <rtept lat="{a:.7f}" lon="{o:.7f}"/>' for a, o in zip(lat, lon, strict=True))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="shipml" '
            f'xmlns="http://www.topografix.com/GPX/1/1">\n  <rte>\n    <name>{name}</name>\n{points}\n'
            '  </rte>\n</gpx>\n')


def _popularity(size: int) -> np.ndarray:
    """Draw weights of a name list: a few names common, a long tail rare (Zipf-like, as in real fields)."""
    weights = 1.0 / (np.arange(size) + 40.0) ** 0.8
    return weights / weights.sum()


def draw_names(female: np.ndarray, rng: np.random.Generator, max_rounds: int = 60) -> pl.Series:
    """A distinct name per runner fitting their sex (``female``): a first name given to that sex, a surname in a form
    for it, common names drawn more often. From 2,500 first names and 6,800 surnames a sex (17 million pairs), so a
    name drawn twice is drawn again until every runner has their own (a million runners take a few rounds)."""
    female = np.asarray(female, dtype=bool)
    out = np.empty(female.size, dtype=object)
    todo = np.arange(female.size)
    for _ in range(max_rounds):
        for is_female, firsts, surnames in ((True, names.FEMALE, names.SURNAMES + names.SURNAMES_FEMALE),
                                            (False, names.MALE, names.SURNAMES + names.SURNAMES_MALE)):
            who = todo[female[todo] == is_female]
            first = pl.Series(firsts).gather(rng.choice(len(firsts), who.size, p=_popularity(len(firsts))))
            last = pl.Series(surnames).gather(rng.choice(len(surnames), who.size, p=_popularity(len(surnames))))
            out[who] = (first + " " + last).to_numpy()
        drawn = pl.Series(out, dtype=pl.String)
        todo = np.flatnonzero(~drawn.is_first_distinct().to_numpy())  # every later copy of a name is drawn again
        if todo.size == 0:
            break
    return pl.Series(out, dtype=pl.String)


def participants(n: int, seed: int = 7) -> pl.DataFrame:
    """``n`` simulated participants: bib, a distinct name (fitting the category's sex), a category (drawn with the
    shares of a real field, :data:`CATEGORY_SHARES`), device."""
    rng = np.random.default_rng(seed)
    category = rng.choice(len(CATEGORIES), n, p=np.array(CATEGORY_SHARES) / sum(CATEGORY_SHARES))
    bib = pl.int_range(1, n + 1, eager=True).cast(pl.String)
    return pl.DataFrame({
        "bib": bib,
        "name": draw_names(np.isin(category, [i for i, c in enumerate(CATEGORIES) if c.startswith("F")]), rng),
        "category": pl.Series(CATEGORIES).gather(category),
        "device": "sim-" + bib,
    })


def pace_factors(categories: list[str] | pl.Series) -> np.ndarray:
    """Each runner's pace relative to the field's typical runner (1.0 for an unknown category), by category
    (:data:`CATEGORY_PACE`), scaled so the field's median pace stays the fitted one."""
    factor = dict(zip(CATEGORIES, CATEGORY_PACE, strict=True))
    typical = float(np.exp(np.dot(np.log(CATEGORY_PACE), CATEGORY_SHARES) / sum(CATEGORY_SHARES)))
    return np.array([factor.get(c, typical) for c in categories], dtype=np.float64) / typical
