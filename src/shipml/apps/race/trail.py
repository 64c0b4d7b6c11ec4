"""Each runner's recent track, kept by the processor: a ring of their last matched positions.

A runner's trail is ``TRAIL_POINTS`` slots of (seconds since their own start, distance along the course), both
float32, with the index of the newest slot: 10 × 8 + 1 bytes a runner (81 MB for a million). A new accepted
position replaces the newest one when that one is less than ``TRAIL_EVERY_S`` after the one before it, and takes
the next slot otherwise: kept positions are at least that far apart, except the newest, so the trail always
ends at the runner's latest position and reaches about three minutes back at a ping every 10 s. It is saved with
the state and published with the standings, so the API draws a runner's track from the published arrays (a few
slices) instead of re-reading raw pings. The track shows matched positions (on the course), not raw fixes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

TRAIL_POINTS = 10
TRAIL_EVERY_S = 20.0
#: the trail arrays of a processor: name → (dtype, initial value, per-runner shape)
TRAIL_ARRAYS: dict[str, tuple[type, float, tuple[int, ...]]] = {
    "trail_t": (np.float32, np.nan, (TRAIL_POINTS,)),  # seconds since the runner's start
    "trail_m": (np.float32, np.nan, (TRAIL_POINTS,)),  # distance along the course
    "trail_head": (np.int8, -1, ()),  # the newest slot, -1 when empty
}


def new_trails(runners: int) -> dict[str, npt.NDArray[np.generic]]:
    """Empty trails for ``runners`` runners."""
    return {name: np.full((runners, *shape), initial, dtype=dtype)
            for name, (dtype, initial, shape) in TRAIL_ARRAYS.items()}


def record(trail_t: npt.NDArray[np.float32], trail_m: npt.NDArray[np.float32], head: npt.NDArray[np.int8],
           runner: npt.NDArray[np.int64], since_start_s: npt.NDArray[np.float64],
           distance_m: npt.NDArray[np.float64]) -> None:
    """Add one accepted position per runner (``runner`` holds distinct runners), in place."""
    if not runner.size:
        return
    newest = head[runner].astype(np.int64)
    gap = trail_t[runner, newest % TRAIL_POINTS] - trail_t[runner, (newest - 1) % TRAIL_POINTS]
    with np.errstate(invalid="ignore"):
        overwrite = (newest >= 0) & (gap < TRAIL_EVERY_S)  # the newest is too close to the one before: replaced
    slot = np.where(overwrite, newest, (newest + 1) % TRAIL_POINTS)
    trail_t[runner, slot] = since_start_s
    trail_m[runner, slot] = distance_m
    head[runner] = slot


def recent(trail_t: npt.ArrayLike, trail_m: npt.ArrayLike, head: int) -> tuple[npt.NDArray[np.float64],
                                                                            npt.NDArray[np.float64]]:
    """One runner's trail, oldest first: (seconds since their start, distance along the course)."""
    t, m = np.asarray(trail_t, dtype=np.float64), np.asarray(trail_m, dtype=np.float64)
    if head < 0 or t.size == 0:
        return np.zeros(0), np.zeros(0)
    order = (np.arange(1, t.size + 1) + head) % t.size  # the slot after the newest is the oldest
    t, m = t[order], m[order]
    kept = np.isfinite(t)
    return t[kept], m[kept]
