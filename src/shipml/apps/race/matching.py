"""Map matching: where along the course is each runner, given where they were.

A position is matched among the course points within ``tolerance`` of it, restricted to the stretch a runner
could have covered since the last ping: from their previous progress (the course sample just before it included,
so a runner standing still with GPS jitter stays put) to ``previous + reach + tolerance`` ahead. Those candidates
fall into runs of consecutive course samples ("branches": the way out, the way back, the next lap). The branch
nearest ahead of the previous progress wins, and within it the point nearest the position, refined onto the
course segment. So an out-and-back, a lap or a crossing never sends a runner to the wrong branch, and the
progress returned is never below the previous one.

Most runners pinged a few seconds ago: their stretch is a few dozen samples, and they are all matched at once
against a fixed-width window of samples (a numpy matrix). A runner whose stretch is longer (a long dropout, a
first ping long after the start) is matched through the course's cKDTree. Known limit: after a long dropout the
nearest branch ahead may be a road that passes within tolerance of the true one earlier in the course; the runner
is then placed behind, their next pings are off course until the reach (which grows with the time since the last
accepted ping) covers the true place again, and they catch up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .course import Course

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Match:
    """The result of matching N positions.

    Attributes:
        distance_m: progress along the course, never below the previous progress (unchanged when off course).
        off_course_m: distance from the position to the matched course point; when off course, to the nearest
            point of the whole course.
        on_course: a course point within tolerance was found on the stretch the runner could have covered.
    """

    distance_m: FloatArray
    off_course_m: FloatArray
    on_course: BoolArray


def match_to_course(
    course: Course,
    x: FloatArray,
    y: FloatArray,
    previous_m: FloatArray,
    reach_m: FloatArray,
    *,
    tolerance_m: float = 40.0,
    max_window: int = 64,
) -> Match:
    """Match positions (local metres, see :meth:`Course.project`) to distances along the course.

    Args:
        course: the course.
        x, y: the positions, one per runner (a runner appears at most once per call).
        previous_m: each runner's progress before this ping.
        reach_m: the farthest each runner can have gone since (max speed × time since the last accepted ping).
        tolerance_m: how far from the course a position may be and still match.
        max_window: the widest stretch, in course samples, matched as a matrix; wider ones use the tree.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    previous = np.asarray(previous_m, dtype=np.float64)
    n = x.size
    lo = np.clip(previous, 0.0, course.length_m)
    hi = np.clip(previous + np.maximum(reach_m, 0.0) + tolerance_m, 0.0, course.length_m)
    last = course.sample_m.size - 1
    first_sample = np.maximum(course.sample_at_metre[np.floor(lo).astype(np.int64)] - 1, 0)
    last_sample = np.minimum(course.sample_at_metre[np.ceil(hi).astype(np.int64)], last)
    span = last_sample - first_sample + 1
    # a sample within tolerance: its refined (segment) distance is then within tolerance too. A position just
    # under tolerance from the middle of a segment may miss (samples are spacing_m apart): negligible.
    radius = tolerance_m
    best = np.full(n, -1, dtype=np.int64)
    # one window width for the batch: wide enough for nearly everyone; the few longer stretches use the tree
    typical = int(np.percentile(span, 99)) if n > 100 else int(span.max(initial=1))
    width = int(min(max_window, -(-max(typical, 1) // 8) * 8, last + 1))
    fast = span <= width
    if fast.any():
        rows = np.flatnonzero(fast) if not fast.all() else np.arange(n)
        best[rows] = _match_window(course, x[rows], y[rows], first_sample[rows], span[rows], width, radius)
    slow = np.flatnonzero(~fast)
    if slow.size:
        best[slow] = _match_tree(course, x[slow], y[slow], first_sample[slow], last_sample[slow], radius)
    return _refine(course, x, y, previous, best, tolerance_m)


def _match_window(course: Course, x: FloatArray, y: FloatArray, first: IntArray, span: IntArray, width: int,
                  radius: float) -> IntArray:
    """Best sample of the first branch, for rows whose stretch fits in ``width`` samples (-1 when none)."""
    windows = course.sample_windows(width)  # (2, samples - width + 1, width)
    start = np.minimum(first, windows.shape[1] - 1)
    offset = first - start  # > 0 only for stretches that end at the finish
    cols = np.arange(width, dtype=np.int64)[None, :]
    # squared distances to every sample of the window, in place (float32: millimetres within 50 km)
    d2 = windows[0][start]
    d2 -= x.astype(np.float32)[:, None]
    d2 *= d2
    dy = windows[1][start]
    dy -= y.astype(np.float32)[:, None]
    dy *= dy
    d2 += dy
    del dy
    within = d2 <= np.float32(radius * radius)
    if (span < width).any():
        within &= cols < (offset + span)[:, None]
    shifted = np.flatnonzero(offset)
    if shifted.size:
        within[shifted] &= cols >= offset[shifted, None]
    head = within.argmax(axis=1)
    found = within[np.arange(x.size), head]
    # several runs of candidates in one window are rare (turnarounds, hairpins): keep only the first run there
    runs = np.count_nonzero(within[:, 1:] > within[:, :-1], axis=1) + within[:, 0]
    multiple = np.flatnonzero(runs > 1)
    if multiple.size:
        sub = within[multiple]
        ended = np.logical_or.accumulate((cols > head[multiple, None]) & ~sub, axis=1)
        within[multiple] = sub & ~ended
    np.copyto(d2, np.float32(np.inf), where=~within)
    best_col = d2.argmin(axis=1)
    return np.where(found, start + best_col, -1)


TREE_NEIGHBOURS = 24  # nearest samples asked of the tree per position; rows that fill them all ask for every one


def _match_tree(course: Course, x: FloatArray, y: FloatArray, first: IntArray, last: IntArray,
                radius: float) -> IntArray:
    """Best sample of the first branch through the spatial index (-1 when none).

    The first branch is the run of consecutive samples within ``radius`` that starts at the lowest sample in the
    runner's stretch; the best is its nearest sample (the lowest on a tie).
    """
    best = np.full(x.size, -1, dtype=np.int64)
    points = np.column_stack([x, y])
    finite = np.flatnonzero(np.isfinite(points).all(axis=1))
    if not finite.size:
        return best
    k = min(TREE_NEIGHBOURS, course.sample_x.size)
    distance, samples = course.tree.query(points[finite], k=k, distance_upper_bound=radius * (1 + 1e-9))
    distance, samples = distance.reshape(finite.size, k), samples.reshape(finite.size, k)
    near = distance <= radius
    crowded = near.all(axis=1) if k < course.sample_x.size else np.zeros(finite.size, dtype=bool)
    samples = np.where(near, samples, -1)
    if crowded.any():  # more samples within radius than asked for: all of them, for these few rows
        rows = finite[crowded]
        hits = course.tree.query_ball_point(points[rows], r=radius)
        width = max(k, *(len(h) for h in hits))
        wide = np.full((finite.size, width), -1, dtype=np.int64)
        wide[:, :k] = samples
        for i, h in zip(np.flatnonzero(crowded), hits, strict=True):
            wide[i, :len(h)] = h
            wide[i, len(h):] = -1
        samples = wide
    big = np.iinfo(np.int64).max
    inside = (samples >= first[finite, None]) & (samples <= last[finite, None])
    ordered = np.sort(np.where(inside, samples, big), axis=1)
    present = ordered != big
    steps = np.diff(ordered, axis=1) != 1
    run = np.where(steps.any(axis=1), steps.argmax(axis=1) + 1, ordered.shape[1])  # the first branch's length
    in_branch = present & (np.arange(ordered.shape[1])[None, :] < run[:, None])
    safe = np.where(present, ordered, 0)
    d2 = (course.sample_x[safe] - x[finite, None]) ** 2 + (course.sample_y[safe] - y[finite, None]) ** 2
    d2 = np.where(in_branch, d2, np.inf)
    pick = d2.argmin(axis=1)
    found = in_branch[np.arange(finite.size), pick]
    best[finite[found]] = ordered[found, pick[found]]
    return best


def _refine(course: Course, x: FloatArray, y: FloatArray, previous: FloatArray, best: IntArray,
            tolerance_m: float) -> Match:
    """Project each position onto the two course segments around its best sample."""
    found = best >= 0
    last = course.sample_m.size - 1
    s = np.where(found, best, 0)
    candidates = []
    for a in (np.maximum(s - 1, 0), np.minimum(s, last - 1)):
        ax, ay, sx, sy = course.sample_x[a], course.sample_y[a], course.segment_dx[a], course.segment_dy[a]
        rx, ry = x - ax, y - ay
        frac = np.clip((rx * sx + ry * sy) * course.segment_inverse_length2[a], 0.0, 1.0)
        gap = np.hypot(rx - frac * sx, ry - frac * sy)
        along = course.sample_m[a] + frac * course.segment_length[a]
        candidates.append((gap, along))
    (gap0, along0), (gap1, along1) = candidates
    use_second = gap1 < gap0
    gap = np.where(use_second, gap1, gap0)
    along = np.where(use_second, along1, along0)
    on_course = found & (gap <= tolerance_m)
    distance = np.where(on_course, np.maximum(previous, along), previous)
    off = np.flatnonzero(~on_course)
    if off.size:
        points = np.column_stack([x[off], y[off]])
        finite = np.isfinite(points).all(axis=1)
        nearest = np.full(off.size, np.inf)
        if finite.any():
            nearest[finite] = course.tree.query(points[finite], k=1)[0]
        gap = gap.copy()
        gap[off] = nearest
    return Match(distance_m=distance, off_course_m=gap, on_course=on_course)
