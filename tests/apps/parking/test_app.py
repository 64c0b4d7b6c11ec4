"""The parking app on the platform: simulated tickets → dataset → the one lifecycle → the API."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from shipml.apps import get
from shipml.apps.parking import ingest, tasks
from shipml.core import registry
from shipml.core.api import create_app
from shipml.core.training import select_and_promote

LAST = date(2024, 3, 1)  # a Friday; the data end here, forecasts run the next 7 days


@pytest.fixture(scope="module")
def trained(module_platform, tmp_path_factory):
    folder = ingest.simulate(tmp_path_factory.mktemp("tickets"), weeks=3, last=LAST, scale=0.02)
    result = ingest.refresh(str(folder))
    outcome = select_and_promote(tasks.model_spec(tasks.QUICK_MODELS, origins=1))
    return result, outcome


@pytest.fixture(scope="module")
def api(trained):
    with TestClient(create_app([get("parking")]), raise_server_exceptions=False) as client:
        yield client


def monday_at(hour: int) -> str:
    return f"{LAST + timedelta(days=3)}T{hour:02}:00"


def test_ingest_stores_synthetic_hourly_data_and_training_registers_a_family(trained):
    result, outcome = trained
    assert result["status"] == "stored" and result["synthetic"] is True
    assert result["neighbourhoods"] == 59 and result["report"]["rows_rejected"] == 0
    assert outcome.promoted and outcome.model == tasks.MODEL
    assert set(outcome.table) == {"seasonal_naive", "global_lightgbm"}
    version, family = registry.champion(tasks.MODEL).get()
    assert version == outcome.version and len(family) == 59
    assert family.params["synthetic"] is True
    assert all("holdout_mae_share" in m for m in family.member_metrics.values())


def test_availability_by_neighbourhood_has_a_number_and_an_interval(api):
    body = api.get("/api/parking/availability", params={"at": monday_at(11), "neighbourhood": "101"}).json()
    assert body["neighbourhood"]["name"].upper() == "PALACIO" and body["regulated"] is True
    lo, hi = body["interval"]["free_fraction"]
    assert 0 <= lo <= body["free_fraction"] <= hi <= 1
    assert body["free_spaces"] == round(body["free_fraction"] * body["spaces"])
    assert body["model"]["name"] == tasks.MODEL and body["model"]["version"] >= 1 and body["synthetic"] is True
    by_code = api.get("/api/parking/availability", params={"at": monday_at(11), "neighbourhood": "01-01"}).json()
    assert by_code["free_fraction"] == body["free_fraction"]


def test_unregulated_time_says_so_instead_of_a_number(api):
    for at in (monday_at(22), f"{LAST + timedelta(days=2)}T12:00"):  # a night, a Sunday
        body = api.get("/api/parking/availability", params={"at": at, "neighbourhood": "101"}).json()
        assert body["regulated"] is False and body["free_fraction"] is None and "not regulated" in body["message"]


def test_availability_by_point_and_by_address_with_a_typo(api):
    at = monday_at(12)
    sol = api.get("/api/parking/availability", params={"at": at, "lat": 40.4169, "lon": -3.7035}).json()
    assert sol["neighbourhood"]["district"].upper() == "CENTRO"
    typo = api.get("/api/parking/availability", params={"at": at, "address": "calle fuencaral 98"}).json()
    assert typo["neighbourhood"]["id"] == 104 and typo["point"]["label"] == "CALLE DE FUENCARRAL 98"


def test_map_is_geojson_with_every_neighbourhood(api):
    response = api.get("/api/parking/map", params={"at": monday_at(10)})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 60
    shown = [f for f in body["features"] if f["properties"]["free_fraction"] is not None]
    assert len(shown) == 59
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in body["features"])
    night = api.get("/api/parking/map", params={"at": monday_at(23)}).json()
    assert all(f["properties"]["free_fraction"] is None for f in night["features"]) and night["regulated"] is False


def test_day_curve_has_24_hours_numbers_only_when_regulated(api):
    body = api.get("/api/parking/day", params={"neighbourhood": "104", "date": str(LAST + timedelta(days=3))}).json()
    hours = body["hours"]
    assert len(hours) == 24
    assert [h["hour"] for h in hours if h["regulated"]] == list(range(9, 21))
    assert all(h["free_fraction"] is not None for h in hours if h["regulated"])


def test_address_search_forgives_typos(api):
    hits = api.get("/api/parking/addresses", params={"q": "Paseo de la Castelana"}).json()
    assert hits[0]["street"] == "PASEO DE LA CASTELLANA" and hits[0]["neighbourhood"]["name"]
    assert 40.3 < hits[0]["lat"] < 40.5 and -3.8 < hits[0]["lon"] < -3.6


@pytest.mark.parametrize(("path", "params", "status", "words"), [
    ("availability", {"at": "2024-03-04T10:00", "lat": 40.50, "lon": -3.60}, 422, "outside the SER zone"),
    ("availability", {"at": "2024-03-04T10:00", "neighbourhood": "9999"}, 404, "no SER neighbourhood"),
    ("availability", {"at": "2024-03-04T10:00", "neighbourhood": "NOWHERE"}, 404, "no SER neighbourhood"),
    ("availability", {"at": "monday ten", "neighbourhood": "101"}, 422, "ISO 8601"),
    ("availability", {"at": "2024-03-04T10:00"}, 422, "exactly one of"),
    ("availability", {"at": "2024-03-04T10:00", "neighbourhood": "1508"}, 404, "no SER spaces"),
    ("map", {"at": "2024-13-45"}, 422, "ISO 8601"),
    ("day", {"neighbourhood": "101", "date": "yesterday"}, 422, "date"),
    ("addresses", {"q": "zzzzqqqq"}, 404, "no street"),
])
def test_bad_requests_are_clear_4xx(api, path, params, status, words):
    response = api.get(f"/api/parking/{path}", params=params)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"]
