"""The ingest policy: unknown devices counted and not stored, a rate per device and per client, the ingest key for
gateway batches, a raw-storage budget (507 past it). Runs in both passes (embedded limits in memory; Redis)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from apps.race import live_race
from apps.race.handmade import latlon, point_at
from platform_fixtures import ADMIN_TOKEN
from shipml.apps import get
from shipml.apps.race import policy, rawlog
from shipml.core.api import create_app

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def api(module_platform: Any) -> Iterator[TestClient]:
    with TestClient(create_app([get("race")]), raise_server_exceptions=False) as client:
        yield client


def define(api: TestClient, **terms: Any) -> tuple[str, dict[str, str], float]:
    """A fresh race (its own name: Redis keeps client counts between tests); its name, key header and gun."""
    name, gun = f"p-{uuid.uuid4().hex[:8]}", live_race.gun_now()
    r = api.put(f"/api/race/races/{name}", json=live_race.race_body(gun, **terms), headers=ADMIN)
    assert r.status_code == 200, r.text
    return name, {"X-Ingest-Key": r.json()["ingest_key"]}, gun


def ping(gun: float, device: str = "dev-1", at: float = 300.0) -> dict[str, Any]:
    lat, lon = latlon(*point_at(1000))
    return {"device": device, "t": gun + at, "lat": float(lat), "lon": float(lon)}


def stored_pings(race: str) -> int:
    return int((rawlog.read_race(race)["kind"] == rawlog.PING).sum())


def test_a_gateway_batch_needs_the_races_ingest_key(api: TestClient) -> None:
    name, key, gun = define(api)
    body = {"pings": [ping(gun)]}
    r = api.post(f"/api/race/{name}/pings", json=body)
    assert r.status_code == 401 and "ingest key" in r.json()["error"]["message"]
    assert api.post(f"/api/race/{name}/pings", json=body, headers={"X-Ingest-Key": "x" * 20}).status_code == 403
    assert api.post(f"/api/race/{name}/pings", content=b"{", headers={"content-type": "application/json"}
                    ).status_code == 401  # the key is checked before the body is read
    assert api.post(f"/api/race/{name}/pings", json=body, headers=key).json()["stored"] == 1
    bearer = {"Authorization": f"Bearer {key['X-Ingest-Key']}"}
    assert api.post(f"/api/race/{name}/pings", json={"pings": [ping(gun, at=310)]}, headers=bearer).status_code == 200
    assert api.post(f"/api/race/{name}/pings", json={"pings": [ping(gun, at=320)]}, headers=ADMIN).status_code == 200
    assert stored_pings(name) == 3
    # the key is shown to admins only, and kept when the race is redefined without one
    assert "ingest_key" not in api.get(f"/api/race/races/{name}").json()
    assert api.get(f"/api/race/races/{name}", headers=ADMIN).json()["ingest_key"] == key["X-Ingest-Key"]
    again = api.put(f"/api/race/races/{name}", json=live_race.race_body(gun), headers=ADMIN).json()
    assert again["ingest_key"] == key["X-Ingest-Key"]
    chosen = "gateway-key-of-the-organiser"
    assert api.put(f"/api/race/races/{name}", json=live_race.race_body(gun, ingest_key=chosen),
                   headers=ADMIN).json()["ingest_key"] == chosen


def test_pings_of_unknown_devices_are_counted_and_not_stored(api: TestClient) -> None:
    name, key, gun = define(api)
    made_up = [ping(gun, device=f"nobody-{i}") for i in range(10_000)]
    for _ in range(3):
        r = api.post(f"/api/race/{name}/pings", json={"pings": made_up}, headers=key)
        assert r.status_code == 200, r.text
        assert r.json() == {"stored": 0, "accepted": 0, "rejected": {"unknown_device": 10_000}}
    r = api.post(f"/api/race/{name}/pings", json={"pings": [ping(gun), *made_up[:5]]}, headers=key)
    assert r.json() == {"stored": 1, "accepted": 1, "rejected": {"unknown_device": 5}}
    policy.pending.flush(name)
    raw = rawlog.read_race(name)
    assert stored_pings(name) == 1
    assert rawlog.edge_counts(raw) == {"unknown_device": 30_005}  # the counts reach the stream, compactly
    assert sum(p.stat().st_size for p in rawlog.new_files(name, 0, 2**62)) < 50_000
    lat, lon = latlon(*point_at(1000))
    r = api.get(f"/api/race/{name}/osmand", params={"id": "stranger", "lat": float(lat), "lon": float(lon)})
    assert r.status_code == 200 and stored_pings(name) == 1  # a tracker is told OK; the ping is counted


def test_each_device_has_a_rate(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPML_RACE_DEVICE_RATE", "10/minute")
    name, key, gun = define(api)
    burst = [ping(gun, device="dev-2", at=200 + i) for i in range(25)] + [ping(gun, device="dev-1")]
    r = api.post(f"/api/race/{name}/pings", json={"pings": burst}, headers=key)
    assert r.json()["stored"] == 11 and r.json()["rejected"]["rate_limited"] == 15
    lat, lon = latlon(*point_at(1000))
    r = api.get(f"/api/race/{name}/osmand", params={"id": "dev-2", "lat": float(lat), "lon": float(lon)})
    assert r.status_code == 429 and r.headers["Retry-After"]
    assert stored_pings(name) == 11


def test_each_client_has_a_rate_unless_it_holds_the_key(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPML_RACE_CLIENT_RATE", "3/minute")
    name, key, gun = define(api)
    lat, lon = latlon(*point_at(1000))
    answers = [api.get(f"/api/race/{name}/osmand", params={"id": f"dev-{i}", "lat": float(lat),
                                                              "lon": float(lon)}).status_code for i in range(1, 6)]
    assert answers == [200, 200, 200, 429, 429]
    owntracks = {"_type": "location", "lat": float(lat), "lon": float(lon), "tst": int(gun + 400)}
    assert api.post(f"/api/race/{name}/owntracks", json=owntracks,
                    headers={"X-Limit-U": "x", "X-Limit-D": "y"}).status_code == 429
    basic = base64.b64encode(f"runner:{key['X-Ingest-Key']}".encode()).decode()
    r = api.post(f"/api/race/{name}/owntracks", json={**owntracks, "tid": "dev-4"},
                 headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200 and r.json() == []  # OwnTracks' HTTP basic auth carries the key
    wrong = base64.b64encode(b"runner:not-the-key").decode()
    assert api.post(f"/api/race/{name}/owntracks", json=owntracks,
                    headers={"Authorization": f"Basic {wrong}"}).status_code == 403
    assert api.post(f"/api/race/{name}/pings", json={"pings": [ping(gun)]}, headers=key).status_code == 200
    assert stored_pings(name) == 5


def test_past_its_storage_budget_a_race_answers_507_and_stores_nothing_more(api: TestClient) -> None:
    name, key, gun = define(api, duration_h=0.002)  # 5 runners × 7.2 s × 400 B × 2 = 28,800 bytes
    answers = []
    for i in range(40):
        batch = [ping(gun, device=f"dev-{d}", at=100 + i * 10 + d) for d in range(1, 6)]
        r = api.post(f"/api/race/{name}/pings", json={"pings": batch}, headers=key)
        answers.append(r.status_code)
        if r.status_code != 200:
            break
    assert answers[-1] == 507 and set(answers[:-1]) == {200}, answers
    files = rawlog.new_files(name, 0, 2**62)
    used = sum(p.stat().st_size for p in files)
    assert 28_800 <= used < 28_800 + 4_000  # one write may cross the line; none follows it
    lat, lon = latlon(*point_at(1000))
    r = api.get(f"/api/race/{name}/osmand", params={"id": "dev-1", "lat": float(lat), "lon": float(lon)})
    assert r.status_code == 507 and "budget" in r.json()["error"]["message"]
    assert rawlog.new_files(name, 0, 2**62) == files
    storage = api.get(f"/api/race/races/{name}", headers=ADMIN).json()["storage"]
    assert storage["used_bytes"] >= storage["budget_bytes"] == 28_800


def test_a_device_bucket_refills_at_its_rate_and_holds_a_burst() -> None:
    from shipml.apps.race.ratelimit import DeviceBuckets

    buckets = DeviceBuckets(3, amount=60, seconds=60)
    first = buckets.admit(np.array([0] * 70 + [1, 2]), now=1000.0)
    assert first.sum() == 62 and not first[60:70].any() and first[70:].all()  # a backlog of 60, then dropped
    assert buckets.admit(np.array([0] * 5), now=1003.0).sum() == 3  # one a second since
    assert buckets.admit(np.array([0] * 100), now=5000.0).sum() == 60  # never more than the burst


def test_a_sped_up_simulation_gets_the_device_rate_in_race_time(platform: Any) -> None:
    from apps.race import simrace

    race = simrace.define("fast", 3)
    assert policy._buckets(race).rate == pytest.approx(simrace.SPEEDUP * 1.0)


def test_the_counts_of_unstored_pings_reach_the_raw_log_without_another_request(api: TestClient) -> None:
    from platform_fixtures import wait_for

    name, key, gun = define(api)
    r = api.post(f"/api/race/{name}/pings", json={"pings": [ping(gun, device="ghost")] * 7}, headers=key)
    assert r.json()["rejected"] == {"unknown_device": 7}
    wait_for(lambda: rawlog.edge_counts(rawlog.read_race(name)) == {"unknown_device": 7},
             what="the edge counts written by the background flush")
    assert stored_pings(name) == 0
