"""What the edge did not store still shows in the live stats: the counts of pings refused at the door (unknown
devices here) reach the processor through the raw log and are published with the other rejections."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from apps.race import live_race
from platform_fixtures import ADMIN_TOKEN
from shipml.apps import get
from shipml.apps.race import definition, policy
from shipml.apps.race.live import RaceWorker
from shipml.core.api import create_app

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def api(platform: Any) -> Iterator[TestClient]:
    with TestClient(create_app([get("race")]), raise_server_exceptions=False) as client:
        yield client


def test_pings_of_unknown_devices_are_counted_in_the_live_stats(api: TestClient) -> None:
    gun = live_race.gun_now()
    assert api.put("/api/race/races/edge", json=live_race.race_body(gun), headers=ADMIN).status_code == 200
    strangers = [{"device": f"stranger-{i}", "t": gun + 100, "lat": 47.37, "lon": 8.54} for i in range(7)]
    answer = api.post("/api/race/edge/pings", json={"pings": live_race.pings(gun) + strangers}, headers=ADMIN)
    assert answer.status_code == 200 and answer.json()["rejected"]["unknown_device"] == 7
    policy.pending.flush("edge")  # the edge's counts, in the raw log
    worker = RaceWorker(definition.load("edge"))
    worker.step(settle_s=0.0)
    worker.publish()
    stats = api.get("/api/race/edge/stats").json()
    assert stats["rejected"]["unknown_device"] == 7
    assert stats["accepted"] == len(live_race.pings(gun))


def test_the_simulated_demo_race_takes_batches_only_with_its_key(api: TestClient) -> None:
    """The simulator is a gateway of the race's own and sends its key; a stranger's batch for the demo race is
    refused like any other race's."""
    from shipml.apps.race.tasks import define_simulated

    race = define_simulated("sim", runners=20, speedup=10.0)
    now = race.race_time(time.time())
    batch = {"pings": [{"device": "sim-1", "t": float(now), "lat": 46.5065, "lon": 6.626}]}
    assert api.post("/api/race/sim/pings", json=batch).status_code == 401
    keyed = api.post("/api/race/sim/pings", json=batch, headers={"X-Ingest-Key": str(race.definition.ingest_key)})
    assert keyed.status_code == 200, keyed.text
