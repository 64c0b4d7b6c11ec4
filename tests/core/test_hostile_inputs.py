"""The hostile requests found by probing the product (issue 17), as a corpus: each is a 4xx with a message that
says what to fix (never a 500, never a traceback or a server path in the answer), and none of them stores what
it should not. Runs in both passes (SQLite and PostgreSQL + Redis)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from platform_fixtures import ADMIN_TOKEN
from shipml.apps import installed
from shipml.core.api import create_app

RACE = "demo"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
DIGITS_400 = "9" * 400
SURROGATE = '"\\ud800"'  # a lone surrogate, as JSON text: valid JSON, not valid Unicode


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# (name, method, path, request keyword arguments)
CORPUS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("owntracks: a 400-digit tst", "POST", f"/api/race/{RACE}/owntracks",
     {"content": '{"_type":"location","lat":40,"lon":-3.7,"tst":' + DIGITS_400 + "}"}),
    ("owntracks: a lone surrogate as tid", "POST", f"/api/race/{RACE}/owntracks",
     {"content": '{"_type":"location","lat":40,"lon":-3.7,"tst":1700000000,"tid":' + SURROGATE + "}"}),
    ("osmand: a lone surrogate as id (JSON)", "POST", f"/api/race/{RACE}/osmand",
     {"content": '{"id":' + SURROGATE + ',"lat":40,"lon":-3.7}', "headers": {"content-type": "application/json"}}),
    ("osmand: a 400-digit timestamp", "GET", f"/api/race/{RACE}/osmand",
     {"params": {"id": "sim-1", "lat": "40", "lon": "-3.7", "timestamp": DIGITS_400}}),
    ("osmand: a 400-digit lat", "GET", f"/api/race/{RACE}/osmand",
     {"params": {"id": "sim-1", "lat": DIGITS_400, "lon": "-3.7"}}),
    ("osmand: JSON nested 2,000 deep", "POST", f"/api/race/{RACE}/osmand",
     {"content": nested(2000), "headers": {"content-type": "application/json"}}),
    ("owntracks: JSON nested 2,000 deep", "POST", f"/api/race/{RACE}/owntracks", {"content": nested(2000)}),
    ("pings: JSON nested 2,000 deep", "POST", f"/api/race/{RACE}/pings",
     {"content": nested(2000), "headers": {"content-type": "application/json", **ADMIN}}),
    ("pings: malformed JSON", "POST", f"/api/race/{RACE}/pings",
     {"content": '{"pings": [', "headers": {"content-type": "application/json", **ADMIN}}),
    ("parking availability: year 1 at +14:00", "GET", "/api/parking/availability",
     {"params": {"at": "0001-01-01T00:00+14:00", "neighbourhood": "101"}}),
    ("parking availability: year 9999 at -14:00", "GET", "/api/parking/availability",
     {"params": {"at": "9999-12-31T23:59-14:00", "neighbourhood": "101"}}),
    ("parking map: year 1 at +14:00", "GET", "/api/parking/map", {"params": {"at": "0001-01-01T00:00+14:00"}}),
    ("parking map: year 9999 at -14:00", "GET", "/api/parking/map", {"params": {"at": "9999-12-31T23:59-14:00"}}),
    ("race definition: a bad body without the token", "PUT", f"/api/race/races/{RACE}", {"content": "{}"}),
    ("covid ingest: a bare file name as the source", "POST", "/api/covid/ingest",
     {"params": {"source": "secretfile"}, "headers": ADMIN}),
    ("covid ingest: a path outside the allowed folders", "POST", "/api/covid/ingest",
     {"params": {"source": "/etc/passwd"}, "headers": ADMIN}),
    ("shows: malformed JSON", "POST", "/api/shows/recommendations",
     {"content": '{"shows": [', "headers": {"content-type": "application/json"}}),
    ("cycling: malformed JSON", "POST", "/api/cycling/similar",
     {"content": "{", "headers": {"content-type": "application/json"}}),
]


@pytest.fixture(scope="module")
def api(module_platform: Any) -> Iterator[TestClient]:
    from shipml.apps.race import definition, demo

    # a race that has started, with its ingest open, so that hostile bodies get as far as they can
    start = datetime.now(UTC) - timedelta(minutes=30)
    definition.define(definition.RaceDefinition(name=RACE, start=start), demo.course_gpx().encode(),
                      definition.read_participants(demo.participants(20)))
    with TestClient(create_app(installed()), raise_server_exceptions=False) as client:
        yield client


def raw_bytes(home: Path) -> int:
    return sum(f.stat().st_size for f in (home / "race" / RACE).rglob("*") if f.is_file() and "raw" in f.parts)


@pytest.mark.parametrize(("name", "method", "path", "kwargs"), CORPUS, ids=[c[0] for c in CORPUS])
def test_a_hostile_request_is_a_clear_4xx(api: TestClient, module_platform: Any, name: str, method: str,
                                          path: str, kwargs: dict[str, Any]) -> None:
    before = raw_bytes(module_platform.home)
    response = api.request(method, path, **kwargs)
    assert 400 <= response.status_code < 500, (name, response.status_code, response.text[:300])
    error = response.json()["error"]
    assert error["code"] and error["message"], error
    assert "Traceback" not in response.text and str(module_platform.home) not in response.text
    assert "/work/" not in response.text and "/tmp/" not in response.text, response.text
    assert raw_bytes(module_platform.home) == before, "a refused request stored pings"


def test_a_flood_of_made_up_devices_stores_nothing(api: TestClient, module_platform: Any) -> None:
    """409 batches of 10,000 made-up devices once added 325 MB: now they need the race's key, and even with a
    key (here the admin token) pings of devices that are not in the race are counted, not stored."""
    now = datetime.now(UTC).timestamp()
    batch = json.dumps({"pings": [{"device": f"fake-{i}", "t": now, "lat": 46.5, "lon": 6.6}
                                  for i in range(10_000)]})
    refused = api.post(f"/api/race/{RACE}/pings", content=batch, headers={"content-type": "application/json"})
    assert refused.status_code == 401, refused.text
    before = raw_bytes(module_platform.home)
    answer = api.post(f"/api/race/{RACE}/pings", content=batch,
                      headers={"content-type": "application/json", **ADMIN})
    assert answer.status_code == 200, answer.text
    assert answer.json()["rejected"]["unknown_device"] == 10_000
    assert raw_bytes(module_platform.home) - before < 10_000, "unknown devices' pings were stored"


def test_a_405_names_every_allowed_method(api: TestClient) -> None:
    response = api.delete(f"/api/race/races/{RACE}")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} >= {"GET", "PUT"}


def test_public_job_listings_carry_no_results_nor_params(api: TestClient) -> None:
    listed = api.get("/api/jobs", params={"limit": 500})
    assert listed.status_code == 200
    body = listed.json()
    jobs = body["items"] if isinstance(body, dict) else body
    assert all(not job.get("result") and "params" not in job for job in jobs), jobs[:3]


@pytest.mark.parametrize(("app", "keyword"), [("covid", "synthetic"), ("cycling", "scrape")])
def test_a_source_keyword_the_app_declares_is_not_taken_for_a_file(api: TestClient, app: str, keyword: str) -> None:
    response = api.post(f"/api/{app}/ingest", params={"source": keyword}, headers=ADMIN)
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("source", ["a\x00b", "Ìý\x85÷¼\x15!3\x01 \x00\U000f4a7e", "data.csv\n"])
def test_a_source_with_control_characters_is_a_422_not_a_500(api: TestClient, source: str) -> None:
    """Found by schemathesis: a NUL in ?source= reached the file system's calls."""
    response = api.post("/api/covid/ingest", params={"source": source}, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert "control characters" in response.json()["error"]["message"]
