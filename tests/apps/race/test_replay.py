"""Replaying real tracks: the first 51 km of a real 101 km ultra on the race's own route."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from shipml.apps.race.course import Course
from shipml.apps.race.replay import Replay
from shipml.apps.race.tracks import read_track, track_length_m


@pytest.fixture(scope="module")
def ultra(shared_data: Path) -> tuple[Replay, list[dict]]:
    folder = shared_data / "race" / "tracks_arbatov"
    replay = Replay(Course.from_file(folder / "RouteBstd.gpx"), [folder / "Evgeny_Arbatov_2023-09-30_06-50-34.GPX"])
    return replay, list(replay.frames())


def test_the_ultra_runner_ends_50_8_km_along_the_route(ultra: tuple[Replay, list[dict]]) -> None:
    replay, frames = ultra
    final = frames[-1]["standings"]
    assert final == [{"runner": "Evgeny_Arbatov_2023-09-30_06-50-34", "rank": 1,
                      "distance_m": pytest.approx(50_800, rel=0.01), "status": "running"}]



def test_the_raw_track_is_longer_than_the_course_covered(shared_data: Path) -> None:
    """GPS noise: integrating the raw points (what the original did) overstates the distance by ~3 km."""
    raw = track_length_m(read_track(shared_data / "race/tracks_arbatov/Evgeny_Arbatov_2023-09-30_06-50-34.GPX"))
    assert raw == pytest.approx(54_000, rel=0.01)


def test_the_5_km_splits_are_in_order_and_the_finish_is_not_reached(ultra: tuple[Replay, list[dict]]) -> None:
    replay, _ = ultra
    splits = replay.processor.splits_s[0]
    assert np.isfinite(splits[:10]).all() and np.isnan(splits[10:]).all()  # 5 … 50 km, nothing after
    assert (np.diff(splits[:10]) > 0).all()
    assert [c.name for c in replay.processor.course.checkpoints[:10]] == [f"{k} km" for k in range(5, 55, 5)]


def test_one_frame_per_minute_of_race_time_then_the_end(ultra: tuple[Replay, list[dict]]) -> None:
    replay, frames = ultra
    times = [datetime.fromisoformat(f["t"]).timestamp() for f in frames]
    assert times[0] == pytest.approx(replay.gun_t + 60)
    assert np.diff(times[:-1]) == pytest.approx(60.0)
    assert 0 < times[-1] - times[-2] <= 60
    distances = [f["standings"][0]["distance_m"] for f in frames]
    assert (np.diff(distances) >= 0).all()


def test_several_runners_race_on_one_course(shared_data: Path) -> None:
    folder = shared_data / "race" / "tracks_msimms"
    # the same 2013 run recorded twice (GPX and TCX) on its own track as the course
    tracks = [folder / "run_03_garmin.gpx", folder / "20130309_run_garmin_fr405cx.tcx"]
    course = Course.from_file(tracks[0])
    final = list(Replay(course, tracks).frames())[-1]["standings"]
    assert {s["runner"] for s in final} == {"run_03_garmin", "20130309_run_garmin_fr405cx"}
    assert [s["rank"] for s in final] == [1, 2]
    assert final[0]["distance_m"] == pytest.approx(final[1]["distance_m"], abs=50)
