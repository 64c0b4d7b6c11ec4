"""The map's base layer, drawn from the street index we ship (no tiles, no token, no network).

The spaces file gives a point per listed house number of every SER street. Each side of a street (odd, even) sorted
by number is a line along the street; a gap of more than :data:`GAP_M` between listed numbers (a park, a square, a
stretch without spaces) breaks it. The lines are simplified to about :data:`TOLERANCE_DEG` (10 m, under a pixel at
the map's scale) and cut into segments (``lon, lat, lon2, lat2``), which a Vega-Lite rule mark draws from a table.
The longest streets get a label (their own name, 'Castellana') at their middle, skipping one that would be drawn
over a longer street's label. Built once per street index (one
per data version).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from shapely.geometry import LineString

from shipml.apps.parking.addresses import PARTICLES, AddressIndex

GAP_M = 250.0
TOLERANCE_DEG = 1e-4
LABELS = 30
LABEL_CHAR_M = 75.0  # the map draws Madrid's SER zone (about 8 km across) some 600 px wide: a 10 px letter is ~75 m
LABEL_HEIGHT_M = 180.0
_M_PER_DEG_LAT = 111_320.0
_M_PER_DEG_LON = _M_PER_DEG_LAT * float(np.cos(np.radians(40.42)))  # Madrid's latitude


@dataclass(frozen=True)
class StreetLines:
    segments: np.ndarray  # (n, 4) float: lon, lat, lon2, lat2
    labels: list[tuple[str, str, float, float, float]]  # name, own name, lon, lat, length in metres; longest first


def overlap(a: tuple[str, str, float, float, float], b: tuple[str, str, float, float, float]) -> bool:
    """Whether two labels (own name at lon, lat) would be drawn over each other on the map: their boxes, about
    :data:`LABEL_CHAR_M` per character wide and :data:`LABEL_HEIGHT_M` high at the page's scale, meet."""
    dx = abs(a[2] - b[2]) * _M_PER_DEG_LON
    dy = abs(a[3] - b[3]) * _M_PER_DEG_LAT
    return dx < (len(a[1]) + len(b[1])) * LABEL_CHAR_M / 2 and dy < LABEL_HEIGHT_M


def _length_m(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.hypot(np.diff(x) * _M_PER_DEG_LON, np.diff(y) * _M_PER_DEG_LAT)


def street_lines(index: AddressIndex) -> StreetLines:
    """Every street of ``index`` as line segments, and labels for the :data:`LABELS` longest that do not overlap."""
    segments: list[np.ndarray] = []
    lengths: list[tuple[float, int]] = []
    numbers, lat, lon = index.arrays()
    for i, street in enumerate(index.all_streets()):
        num, y, x = (a[street.start:street.stop] for a in (numbers, lat, lon))
        total = 0.0
        for side in (0, 1):
            on = (num >= 0) & (num % 2 == side)
            if on.sum() < 2:
                continue
            order = np.argsort(num[on], kind="stable")
            sx, sy = x[on][order], y[on][order]
            steps = _length_m(sx, sy)
            breaks = np.flatnonzero(steps > GAP_M) + 1
            total = max(total, float(steps[steps <= GAP_M].sum()))
            for a, b in zip([0, *breaks.tolist()], [*breaks.tolist(), len(sx)], strict=True):
                if b - a < 2:
                    continue
                coords = np.asarray(LineString(np.column_stack([sx[a:b], sy[a:b]])).simplify(TOLERANCE_DEG).coords)
                pairs = np.column_stack([coords[:-1], coords[1:]])
                segments.append(pairs[(pairs[:, :2] != pairs[:, 2:]).any(axis=1)])
        lengths.append((total, i))
    labels: list[tuple[str, str, float, float, float]] = []
    streets = index.all_streets()
    for total, i in sorted(lengths, reverse=True):
        if len(labels) == LABELS:
            break
        street = streets[i]
        own = " ".join(w if w in PARTICLES else w.capitalize() for w in street.key.split())
        label = (street.name, own, float(lon[street.middle]), float(lat[street.middle]), float(round(total)))
        if not any(overlap(label, kept) for kept in labels):
            labels.append(label)
    return StreetLines(np.round(np.concatenate(segments), 5) if segments else np.zeros((0, 4)), labels)
