"""Reading real GPX, TCX and CSV activity files, and refusing broken ones with a clear message."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from shipml.apps.race.course import Course
from shipml.apps.race.tracks import EARTH_RADIUS_M, TRACK_SCHEMA, read_track, track_length_m
from shipml.core.errors import RejectedData


@pytest.fixture(scope="module")
def race_data(shared_data: Path) -> Path:
    return shared_data / "race"


@pytest.mark.parametrize(("path", "points", "with_hr"), [
    ("tracks_runpandas/basic.tcx", 383, 383),
    ("tracks_runpandas/nike_run.gpx", 727, 494),
    ("tracks_msimms/run_03_garmin.gpx", 560, 560),
    ("tracks_msimms/20220320_track_run_apple_watch_se.tcx", 1387, 0),
    ("tracks_arbatov/Evgeny_Arbatov_2023-09-30_06-50-34.GPX", 25627, 0),
])
def test_real_tracks(race_data: Path, path: str, points: int, with_hr: int) -> None:
    track = read_track(race_data / path)
    assert dict(track.schema) == TRACK_SCHEMA
    assert track.height == points
    assert track["hr"].drop_nulls().len() == with_hr
    assert track["t"].null_count() == 0 and track["t"].is_sorted()


def test_the_same_run_as_gpx_and_tcx_agrees(race_data: Path) -> None:
    gpx = read_track(race_data / "tracks_msimms/run_03_garmin.gpx")
    tcx = read_track(race_data / "tracks_msimms/20130309_run_garmin_fr405cx.tcx")  # 7 trackpoints lack a position
    joined = gpx.join(tcx, on="t", suffix="_tcx")
    assert joined.height == 560
    assert (joined["lat"] - joined["lat_tcx"]).abs().max() < 1e-6  # type: ignore[operator]


def test_a_route_is_a_course(race_data: Path) -> None:
    route = race_data / "tracks_arbatov/RouteBstd.gpx"
    with pytest.raises(RejectedData, match="RouteBstd.gpx: 4309 of 4309 points have no time"):
        read_track(route)
    course = Course.from_file(route)
    assert course.length_m == pytest.approx(101_760, rel=0.001)
    assert course.checkpoints[0].name == "5 km" and course.checkpoints[-1].name == "Finish"
    assert len(course.checkpoints) == 21


def test_the_malformed_tcx_gets_a_clear_error(race_data: Path) -> None:
    with pytest.raises(RejectedData, match=r"malformed\.tcx: not well-formed XML \(unbound prefix: line 4653"):
        read_track(race_data / "tracks_runpandas/malformed.tcx")


def test_a_doctype_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.gpx"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa">]><gpx>&a;</gpx>')
    with pytest.raises(RejectedData, match="bomb.gpx: XML with a DOCTYPE"):
        read_track(bomb)


def test_gpx_route_points(tmp_path: Path) -> None:
    route = tmp_path / "route.gpx"
    route.write_text('<gpx xmlns="http://www.topografix.com/GPX/1/1"><rte><rtept lat="47.1" lon="8.1"><ele>400</ele>'
                     '</rtept><rtept lat="47.2" lon="8.2"/></rte></gpx>')
    track = read_track(route, require_time=False)
    assert track.select("lat", "lon", "ele").rows() == [(47.1, 8.1, 400.0), (47.2, 8.2, None)]


def test_csv_with_any_of_the_usual_column_names(tmp_path: Path) -> None:
    iso = tmp_path / "iso.csv"
    iso.write_text("Latitude,Longitude,Timestamp,HR\n47.1,8.1,2024-05-01T08:00:00Z,120\n"
                   "47.2,8.2,2024-05-01T10:00:05+02:00,121\n")
    unix = tmp_path / "unix.csv"
    unix.write_text("lat,lon,time\n47.1,8.1,1714550400\n47.2,8.2,1714550405\n")
    for path in (iso, unix):
        track = read_track(path)
        assert track["t"].dt.epoch("s").to_list() == [1714550400, 1714550405]
        assert track["lat"].to_list() == [47.1, 47.2]
    assert read_track(iso)["hr"].to_list() == [120.0, 121.0]


@pytest.mark.parametrize(("name", "text", "message"), [
    ("nolat.csv", "lon,time\n8.1,1714550400\n", "nolat.csv: missing column(s) lat/latitude"),
    ("badlat.csv", "lat,lon,time\n95,8.1,1714550400\n", "badlat.csv: 1 point(s) with impossible coordinates"),
    ("badtime.csv", "lat,lon,time\n47,8.1,yesterday\n", "badtime.csv: column 'time' has an unreadable time"),
    ("empty.gpx", "<gpx></gpx>", "empty.gpx: no track points"),
    ("track.kml", "<kml/>", "track.kml: unknown track format '.kml'"),
    ("wrong.tcx", "<gpx></gpx>", "wrong.tcx: root element is <gpx>, not <TrainingCenterDatabase>"),
])
def test_broken_files_say_what_is_wrong(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(RejectedData) as caught:
        read_track(tmp_path / name)
    assert message in str(caught.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RejectedData, match="nowhere.gpx: no such file"):
        read_track(tmp_path / "nowhere.gpx")



def _haversine_loop(lat: list[float], lon: list[float]) -> float:
    """The pure-Python haversine track_length_m used before it was vectorised: the reference."""
    total = 0.0
    for i in range(1, len(lat)):
        p1, p2 = math.radians(lat[i - 1]), math.radians(lat[i])
        dp, dl = p2 - p1, math.radians(lon[i] - lon[i - 1])
        a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        total += 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))
    return total


@pytest.mark.parametrize("path", ["tracks_msimms/20210119_run_garmin_fenix6_sapphire.gpx",
                                  "tracks_arbatov/Evgeny_Arbatov_2023-09-30_06-50-34.GPX",
                                  "tracks_runpandas/strava_export.gpx"])
def test_track_length_is_the_haversine_sum_of_real_tracks(race_data: Path, path: str) -> None:
    track = read_track(race_data / path)
    assert track_length_m(track) == pytest.approx(_haversine_loop(track["lat"].to_list(), track["lon"].to_list()),
                                                  rel=1e-6)


def test_track_length_known_answers() -> None:
    meridian = pl.DataFrame({"lat": [0.0, 0.5, 1.0], "lon": [3.0, 3.0, 3.0]})
    assert track_length_m(meridian) == pytest.approx(EARTH_RADIUS_M * math.pi / 180, rel=1e-9)  # 1° of latitude
    across = pl.DataFrame({"lat": [0.0, 0.0], "lon": [179.5, -179.5]})  # the short way over the antimeridian
    assert track_length_m(across) == pytest.approx(EARTH_RADIUS_M * math.pi / 180, rel=1e-9)
    assert track_length_m(pl.DataFrame({"lat": [40.4], "lon": [-3.7]})) == 0.0  # one point: no length
