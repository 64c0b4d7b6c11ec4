"""A race course in local metres: distance along it, named checkpoints and a spatial index.

The course is projected once with pyproj onto a transverse Mercator centred on it (scale error under 0.01 %
within 60 km of the centre). Pings are projected with a cubic polynomial fitted to that same projection over the
course's bounding box (checked to within a few centimetres at build time, otherwise pyproj is used), which is
several times faster than pyproj on a million points.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from pyproj import Transformer
from scipy.spatial import cKDTree

from shipml.core.errors import InvalidInput

from .tracks import read_track

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
POLY_DEGREE = 3
POLY_MAX_ERROR_M = 0.05


@dataclass(frozen=True)
class Checkpoint:
    """A named point of the course where split times are taken."""

    name: str
    distance_m: float


def default_checkpoints(length_m: float, every_m: float = 5000.0) -> list[Checkpoint]:
    """One checkpoint every ``every_m`` (named "5 km", "10 km", …) and the finish."""
    if every_m <= 0:
        raise InvalidInput(f"checkpoint spacing must be positive, got {every_m}")
    marks = np.arange(every_m, length_m - 1.0, every_m)  # a mark within a metre of the finish is the finish
    return [Checkpoint(f"{m / 1000:g} km", float(m)) for m in marks] + [Checkpoint("Finish", float(length_m))]


class Course:
    """A course from its ordered points (a route, or the track of someone who ran it).

    Attributes:
        name: shown to users.
        lat, lon: the course points, degrees (consecutive duplicates dropped).
        x, y: the same in local metres; ``vertex_m`` the distance along the course at each point.
        length_m: total length.
        checkpoints: split points, ascending, the finish last.
        sample_x, sample_y, sample_m: the course densified every ``spacing_m`` (every vertex kept), indexed by
            ``tree`` (a cKDTree); consecutive samples are joined by straight segments.
    """

    def __init__(
        self,
        lat: Sequence[float] | FloatArray,
        lon: Sequence[float] | FloatArray,
        *,
        name: str = "course",
        checkpoint_every_m: float = 5000.0,
        checkpoints: Sequence[Checkpoint] | None = None,
        spacing_m: float = 10.0,
    ) -> None:
        lat_a, lon_a = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        if lat_a.shape != lon_a.shape or lat_a.ndim != 1 or lat_a.size < 2:
            raise InvalidInput("a course needs at least two points with both lat and lon")
        if not (np.isfinite(lat_a).all() and np.isfinite(lon_a).all()
                and (np.abs(lat_a) <= 90).all() and (np.abs(lon_a) <= 180).all()):
            raise InvalidInput("a course point has impossible coordinates")
        self.name = name
        self.spacing_m = float(spacing_m)
        self.checkpoint_every_m = float(checkpoint_every_m)
        self.lat0 = float((lat_a.min() + lat_a.max()) / 2)
        self.lon0 = float((lon_a.min() + lon_a.max()) / 2)
        self._to_metres = Transformer.from_crs(
            "EPSG:4326", f"+proj=tmerc +lat_0={self.lat0} +lon_0={self.lon0} +k=1 +ellps=WGS84 +units=m",
            always_xy=True)
        self._to_degrees = Transformer.from_crs(self._to_metres.target_crs, "EPSG:4326", always_xy=True)
        x, y = self._to_metres.transform(lon_a, lat_a)
        step = np.hypot(np.diff(x), np.diff(y))
        keep = np.concatenate([[True], step > 1e-3])
        self.lat, self.lon, self.x, self.y = lat_a[keep], lon_a[keep], np.asarray(x)[keep], np.asarray(y)[keep]
        if self.x.size < 2:
            raise InvalidInput("a course needs at least two distinct points")
        self.vertex_m = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(self.x), np.diff(self.y)))])
        self.length_m = float(self.vertex_m[-1])
        self.checkpoints = list(checkpoints) if checkpoints else default_checkpoints(self.length_m, checkpoint_every_m)
        self.checkpoint_m = np.array([c.distance_m for c in self.checkpoints], dtype=np.float64)
        if (np.diff(self.checkpoint_m) <= 0).any() or self.checkpoint_m[-1] > self.length_m + 1e-6:
            raise InvalidInput("checkpoints must be ascending and on the course")
        self._densify()
        self._fit_projection()

    @classmethod
    def from_file(cls, path: str | Path, **options: object) -> Course:
        """A course from a GPX route or track, a TCX or a CSV (timestamps not needed)."""
        frame = read_track(path, require_time=False)
        options.setdefault("name", Path(path).stem)
        return cls(frame["lat"].to_numpy(), frame["lon"].to_numpy(), **options)  # type: ignore[arg-type]

    @property
    def start_xy(self) -> tuple[float, float]:
        return float(self.x[0]), float(self.y[0])

    def _densify(self) -> None:
        seg = np.diff(self.vertex_m)
        pieces = np.maximum(np.ceil(seg / self.spacing_m).astype(np.int64), 1)
        owner = np.repeat(np.arange(seg.size), pieces)
        first = np.cumsum(pieces) - pieces
        frac = (np.arange(owner.size) - first[owner]) / pieces[owner]
        dx, dy = np.diff(self.x), np.diff(self.y)
        self.sample_x = np.append(self.x[owner] + frac * dx[owner], self.x[-1])
        self.sample_y = np.append(self.y[owner] + frac * dy[owner], self.y[-1])
        self.sample_m = np.append(self.vertex_m[owner] + frac * seg[owner], self.length_m)
        self.segment_dx, self.segment_dy = np.diff(self.sample_x), np.diff(self.sample_y)
        self.segment_length = np.diff(self.sample_m)
        self.segment_inverse_length2 = 1.0 / (self.segment_dx**2 + self.segment_dy**2)
        self.sample_xy32 = np.stack([self.sample_x, self.sample_y]).astype(np.float32)
        self._windows: dict[int, npt.NDArray[np.float32]] = {}
        self.max_sample_gap_m = float(np.diff(self.sample_m).max())
        # the first sample at or after each whole metre along the course: O(1) window lookups
        metres = np.arange(int(np.ceil(self.length_m)) + 2, dtype=np.float64)
        self.sample_at_metre = np.searchsorted(self.sample_m, metres, side="left").astype(np.int64)
        self.tree = cKDTree(np.column_stack([self.sample_x, self.sample_y]))
        log.debug("course %s: %.0f m, %d samples", self.name, self.length_m, self.sample_m.size)

    def sample_windows(self, width: int) -> npt.NDArray[np.float32]:
        """Every run of ``width`` consecutive samples, as a (2, samples - width + 1, width) view (x then y)."""
        if width not in self._windows:
            self._windows[width] = sliding_window_view(self.sample_xy32, min(width, self.sample_m.size), axis=1)
        return self._windows[width]

    def _poly_features(self, lat: FloatArray, lon: FloatArray) -> list[FloatArray]:
        u = (lon - self.lon0) / self._poly_scale
        v = (lat - self.lat0) / self._poly_scale
        powers_u, powers_v = [np.ones_like(u), u], [np.ones_like(v), v]
        for _ in range(2, POLY_DEGREE + 1):
            powers_u.append(powers_u[-1] * u)
            powers_v.append(powers_v[-1] * v)
        return [powers_u[i] * powers_v[j] for i in range(POLY_DEGREE + 1) for j in range(POLY_DEGREE + 1 - i)]

    def _fit_projection(self) -> None:
        margin = max(0.05, 0.1 * float(max(np.ptp(self.lat), np.ptp(self.lon))))
        self._box = (self.lat.min() - margin, self.lat.max() + margin, self.lon.min() - margin, self.lon.max() + margin)
        self._poly_scale = max(self._box[1] - self._box[0], self._box[3] - self._box[2]) / 2
        lat_grid, lon_grid = (g.ravel() for g in np.meshgrid(np.linspace(*self._box[:2], 25),
                                                             np.linspace(*self._box[2:], 25)))
        x, y = self._to_metres.transform(lon_grid, lat_grid)
        design = np.column_stack(self._poly_features(lat_grid, lon_grid))
        self._coef_x = np.linalg.lstsq(design, x, rcond=None)[0]
        self._coef_y = np.linalg.lstsq(design, y, rcond=None)[0]
        check_lat, check_lon = (g.ravel() for g in np.meshgrid(np.linspace(*self._box[:2], 31),
                                                               np.linspace(*self._box[2:], 31)))
        fast_x, fast_y = self._project_poly(check_lat, check_lon)
        true_x, true_y = self._to_metres.transform(check_lon, check_lat)
        error = float(np.hypot(fast_x - true_x, fast_y - true_y).max())
        self._use_poly = error <= POLY_MAX_ERROR_M
        log.debug("course %s: polynomial projection error %.4f m (used: %s)", self.name, error, self._use_poly)

    def _project_poly(self, lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
        features = self._poly_features(lat, lon)
        x = np.zeros_like(lat)
        y = np.zeros_like(lat)
        for f, cx, cy in zip(features, self._coef_x, self._coef_y, strict=True):
            x += cx * f
            y += cy * f
        return x, y

    def project(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Degrees to local metres. Points far outside the course's surroundings come back as +inf."""
        lat_a, lon_a = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        if self._use_poly:
            x, y = self._project_poly(lat_a, lon_a)
        else:
            x, y = (np.asarray(a, dtype=np.float64) for a in self._to_metres.transform(lon_a, lat_a))
        outside = ~((lat_a >= self._box[0]) & (lat_a <= self._box[1]) & (lon_a >= self._box[2])
                    & (lon_a <= self._box[3]))
        if outside.any():
            x = np.where(outside, np.inf, x)
            y = np.where(outside, np.inf, y)
        return x, y

    def unproject(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Local metres back to (lat, lon) degrees."""
        lon, lat = self._to_degrees.transform(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        return np.asarray(lat), np.asarray(lon)

    def xy_at(self, distance_m: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """The point of the course at a distance along it, in local metres."""
        d = np.clip(np.asarray(distance_m, dtype=np.float64), 0.0, self.length_m)
        return np.interp(d, self.vertex_m, self.x), np.interp(d, self.vertex_m, self.y)

    def position_at(self, distance_m: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """The point of the course at a distance along it, as (lat, lon) degrees."""
        return self.unproject(*self.xy_at(distance_m))
