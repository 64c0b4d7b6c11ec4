"""Concurrent definitions of one race: every writer succeeds in turn, the race is whole after them (race.json, its
course, its participants, all of one writer), and no temporary file is left behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from apps.race import live_race
from platform_fixtures import ADMIN_TOKEN
from shipml.apps import get
from shipml.apps.race import definition
from shipml.core.api import create_app

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def api(platform: Any) -> Iterator[TestClient]:
    with TestClient(create_app([get("race")]), raise_server_exceptions=False) as client:
        yield client


def test_six_concurrent_puts_of_one_race_all_succeed_and_leave_it_whole(api: TestClient) -> None:
    gun = live_race.gun_now()
    bodies = [live_race.race_body(gun, title=f"writer {i}",
                                  course={"format": "csv" if i % 2 else "gpx", "text": _course(i % 2 == 1)})
              for i in range(6)]
    answers: list[int] = []
    start = threading.Barrier(len(bodies))

    def put(body: dict[str, Any]) -> None:
        start.wait()
        answers.append(api.put("/api/race/races/busy", json=body, headers=ADMIN).status_code)

    threads = [threading.Thread(target=put, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers == [200] * len(bodies)
    race = definition.load("busy")
    assert race.definition.title in {b["title"] for b in bodies}
    assert race.runners == 5 and race.course.length_m == pytest.approx(6000, abs=1)
    leftovers = [p.name for p in race.folder.iterdir() if p.name not in {
        "race.json", race.definition.course_file, "participants.parquet", ".define.lock"}]
    assert leftovers == []
    assert api.get("/api/race/races/busy").status_code == 200


def _course(as_csv: bool) -> str:
    if not as_csv:
        return live_race.course_gpx()
    from apps.race.handmade import make_course

    c = make_course()
    return "time,lat,lon\n" + "".join(f"{1_700_000_000 + i},{a:.9f},{o:.9f}\n"
                                       for i, (a, o) in enumerate(zip(c.lat, c.lon, strict=True)))
