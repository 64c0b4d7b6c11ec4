"""What the race page shows, through the API's own answers: splits named by checkpoint and shown as h:mm:ss, one
gap unit (time, rising down the table), every column the page declares."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from apps.race import live_race
from platform_fixtures import ADMIN_TOKEN
from shipml.apps import get
from shipml.apps.race import board, definition
from shipml.apps.race.live import RaceWorker
from shipml.apps.race.schemas import Leaderboard, RunnerDetail
from shipml.core.api import create_app

CLOCK = re.compile(r"^\d+:\d\d:\d\d$")
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def api(module_platform: Any) -> Iterator[TestClient]:
    with TestClient(create_app([get("race")]), raise_server_exceptions=False) as client:
        gun = live_race.gun_now()
        assert client.put("/api/race/races/hand", json=live_race.race_body(gun), headers=ADMIN).status_code == 200
        key = client.get("/api/race/races/hand", headers=ADMIN).json()["ingest_key"]
        r = client.post("/api/race/hand/pings", json={"pings": live_race.pings(gun)}, headers={"X-Ingest-Key": key})
        assert r.status_code == 200, r.text
        worker = RaceWorker(definition.load("hand"))
        worker.step(settle_s=0.0)
        worker.publish()
        yield client


def test_splits_are_named_by_checkpoint_and_shown_as_times(api: TestClient) -> None:
    runners = [RunnerDetail.model_validate(api.get(f"/api/race/hand/runners/{bib}").json()) for bib in ("1", "2")]
    splits = board.splits_table(runners)
    assert list(splits.columns) == ["runner", "1 km", "2 km", "3 km", "4 km", "5 km", "Finish"]
    assert splits["runner"].tolist() == ["1 · Ana Lindqvist", "2 · Ben Okafor"]
    ana, ben = splits.iloc[0], splits.iloc[1]
    assert (ana["1 km"], ana["2 km"], ana["3 km"]) == ("0:03:00", "0:06:52", "0:10:40")  # 180, 412.5, 640 s
    assert ben["1 km"] == "0:05:00" and ben["3 km"] == ""  # not passed yet: empty, not "—" or a number
    assert all(CLOCK.match(v) or v == "" for v in splits.drop(columns="runner").to_numpy().ravel())


def test_the_table_has_one_gap_unit_rising_down_the_list(api: TestClient) -> None:
    page = Leaderboard.model_validate(api.get("/api/race/hand/leaderboard", params={"limit": 10}).json())
    table = board.table(page.rows)
    assert list(table.columns) == list(board.COLUMNS)
    ranked = table[table["rank"].notna()]
    assert ranked["gap"].iloc[0] == "+0:00:00" and all(g.startswith("+") and CLOCK.match(g[1:]) for g in ranked["gap"])
    seconds = [sum(int(x) * f for x, f in zip(g[1:].split(":"), (3600, 60, 1), strict=True)) for g in ranked["gap"]]
    assert seconds == sorted(seconds) and seconds[-1] > 0
    assert set(table[table["rank"].isna()]["gap"]) == {""}  # not started, DNF: no gap, not a distance
    assert not any(g.endswith(" m") for g in table["gap"])
    assert set(table["status"]) <= set(board.STATUS_TEXT.values())
    assert all(p == "—" or re.match(r"^\d+:\d\d /km$", p) for p in table["pace"])
