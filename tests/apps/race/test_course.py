"""The course and map matching on the hand-made course: out-and-back, laps, crossings."""

from __future__ import annotations

import numpy as np
import pytest

from apps.race.handmade import VERTICES, latlon, point_at
from shipml.apps.race.course import Course
from shipml.apps.race.matching import match_to_course
from shipml.core.errors import InvalidInput


def match(course: Course, points: list[tuple[float, float]], previous: list[float], reach: float | list[float]):
    lat, lon = latlon([p[0] for p in points], [p[1] for p in points])
    x, y = course.project(lat, lon)
    return match_to_course(course, x, y, np.asarray(previous, dtype=float),
                           np.broadcast_to(np.asarray(reach, dtype=float), (len(points),)), tolerance_m=40.0)


def test_length_and_checkpoints(course: Course) -> None:
    assert course.length_m == pytest.approx(6000.0, abs=0.01)
    assert [c.name for c in course.checkpoints] == ["1 km", "2 km", "3 km", "4 km", "5 km", "Finish"]
    assert [c.distance_m for c in course.checkpoints][:5] == [1000.0, 2000.0, 3000.0, 4000.0, 5000.0]
    assert course.checkpoints[-1].distance_m == pytest.approx(6000.0, abs=0.01)


def test_projection_is_local_metres(course: Course) -> None:
    lat, lon = latlon([v[0] for v in VERTICES], [v[1] for v in VERTICES])
    x, y = course.project(lat, lon)
    # the course's own frame is centred elsewhere, so compare distances, not coordinates
    assert np.hypot(np.diff(x), np.diff(y)) == pytest.approx([1000, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500],
                                                            abs=0.01)
    back_lat, back_lon = course.unproject(x, y)
    assert back_lat == pytest.approx(lat, abs=1e-9) and back_lon == pytest.approx(lon, abs=1e-9)


def test_position_at_walks_the_course(course: Course) -> None:
    for d in (0, 250, 1250, 1750, 2600, 4600, 6000):
        lat, lon = course.position_at(d)
        want_lat, want_lon = latlon(*point_at(d))
        assert (float(lat), float(lon)) == pytest.approx((float(want_lat), float(want_lon)), abs=1e-7)


def test_out_and_back_goes_by_previous_progress(course: Course) -> None:
    # (1000, 200) is 1200 m on the way out and 1800 m on the way back
    result = match(course, [(1000, 200)] * 3, previous=[1100, 1600, 0], reach=[300, 300, 10_000])
    assert result.distance_m == pytest.approx([1200, 1800, 1200], abs=0.01)
    assert result.on_course.all()
    assert result.off_course_m == pytest.approx([0, 0, 0], abs=0.01)


def test_a_runner_on_the_way_back_is_never_matched_to_the_way_out(course: Course) -> None:
    points = [(1000 + dx, y) for y in range(20, 480, 40) for dx in (-15, 0, 15)]
    back = [1500 + (500 - y) for _, y in points]
    result = match(course, points, previous=[b - 30 for b in back], reach=200)
    assert result.on_course.all()
    assert result.distance_m == pytest.approx(back, abs=0.01)


def test_laps_and_the_shared_point(course: Course) -> None:
    # (1200, -500) is 2700 m in lap 1 and 4700 m in lap 2; A = (1000, 0) is at 1000, 2000, 4000 and 6000 m
    result = match(course, [(1200, -500), (1200, -500), (1000, 0), (1000, 0), (995, 0)],
                   previous=[2400, 4400, 1950, 3900, 5900], reach=[400, 400, 200, 200, 200])
    assert result.distance_m == pytest.approx([2700, 4700, 2000, 4000, 6000], abs=0.01)


def test_progress_never_goes_backwards_and_off_course_is_measured(course: Course) -> None:
    # jitter behind the previous progress keeps it; a point 150 m south of the first leg is off course
    result = match(course, [(490, 8), (500, -150)], previous=[500, 500], reach=[100, 100])
    assert result.distance_m == pytest.approx([500, 500], abs=0.01)
    assert result.on_course.tolist() == [True, False]
    assert result.off_course_m[1] == pytest.approx(150, abs=0.01)


def test_nothing_beyond_reach(course: Course) -> None:
    # the lap's (1000, -300) is 2300 m; from 1950 with 100 m of reach it cannot be reached yet
    result = match(course, [(1000, -300)], previous=[1950], reach=[100])
    assert not result.on_course[0] and result.distance_m[0] == 1950


def test_long_dropouts_use_the_spatial_index_with_the_same_answer(course: Course) -> None:
    points = [point_at(d) for d in (1200, 1800, 2700, 4700, 5900)]
    previous = [1100, 1600, 2400, 4400, 5500]
    near = match(course, points, previous, reach=400)
    far = match(course, points, previous, reach=3_000)  # wider than the matrix window: the tree path
    assert near.distance_m == pytest.approx([1200, 1800, 2700, 4700, 5900], abs=0.01)
    assert far.distance_m == pytest.approx(near.distance_m, abs=0.01)


def test_a_course_needs_two_distinct_points() -> None:
    with pytest.raises(InvalidInput):
        Course([47.0, 47.0], [8.0, 8.0])
    with pytest.raises(InvalidInput):
        Course([95.0, 47.0], [8.0, 8.0])


@pytest.mark.parametrize("radius", [5.0, 40.0, 150.0])  # 150 m: more samples in reach than the tree is asked for
def test_the_spatial_index_finds_the_first_branch_a_scan_of_every_sample_finds(course: Course, radius: float) -> None:
    from shipml.apps.race.matching import TREE_NEIGHBOURS, _match_tree

    rng = np.random.default_rng(7)  # any draw: the answer is compared with a scan, not a stored value
    n, samples = 3000, course.sample_x.size
    x, y = course.xy_at(rng.uniform(0, course.length_m, n))
    x, y = x + rng.normal(0, 30, n), y + rng.normal(0, 30, n)
    x[:5] = np.nan
    first = np.where(rng.random(n) < 0.5, 0, rng.integers(0, samples, n))
    last = np.minimum(first + rng.integers(0, samples, n), samples - 1)
    got = _match_tree(course, x, y, first, last, radius)
    expected = np.full(n, -1)
    for i in range(n):
        d2 = (course.sample_x - x[i]) ** 2 + (course.sample_y - y[i]) ** 2
        near = np.flatnonzero(d2 <= radius * radius)
        near = near[(near >= first[i]) & (near <= last[i])]
        if near.size:
            branch = near[:np.flatnonzero(np.diff(near) != 1)[0] + 1] if (np.diff(near) != 1).any() else near
            expected[i] = branch[np.argmin(d2[branch])]
    np.testing.assert_array_equal(got, expected)
    assert (got >= 0).any() and (got < 0).any()
    if radius == 150.0:
        within = [(np.hypot(course.sample_x - a, course.sample_y - b) <= radius).sum()
                  for a, b in zip(x, y, strict=True)]
        assert max(within) > TREE_NEIGHBOURS  # the crowded fallback was exercised
