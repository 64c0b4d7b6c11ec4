"""The parking API's contract: every operation documents its answer's schema, and every answer is its model, field
for field (what the page parses is what the API sends)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shipml.apps import get
from shipml.apps.parking import ingest, schemas, tasks
from shipml.core.api import create_app
from shipml.core.training import select_and_promote
from shipml.ui.client import parse

LAST = date(2024, 3, 1)  # a Friday; the data end here, forecasts run the next 7 days
MONDAY = LAST + timedelta(days=3)


@pytest.fixture(scope="module")
def trained(module_platform, tmp_path_factory):
    folder = ingest.simulate(tmp_path_factory.mktemp("tickets"), weeks=3, last=LAST, scale=0.02)
    ingest.refresh(str(folder))
    return select_and_promote(tasks.model_spec(tasks.QUICK_MODELS, origins=1))


@pytest.fixture(scope="module")
def api(trained):
    with TestClient(create_app([get("parking")]), raise_server_exceptions=False) as client:
        yield client


def test_every_parking_operation_documents_the_schema_of_its_answer(api):
    paths = api.get("/openapi.json").json()["paths"]
    operations = {f"{method.upper()} {path}": op for path, ops in paths.items() if path.startswith("/api/parking/")
                  for method, op in ops.items()}
    assert {"GET /api/parking/availability", "GET /api/parking/map", "GET /api/parking/day",
            "GET /api/parking/addresses", "GET /api/parking/neighbourhoods"} <= set(operations)
    undocumented = [label for label, op in operations.items()
                    if not any(status.startswith("2") and any(media.get("schema") for media in
                                                              answer.get("content", {}).values())
                               for status, answer in op["responses"].items())]
    assert not undocumented
    geojson = operations["GET /api/parking/map"]["responses"]["200"]["content"]
    assert geojson == {"application/geo+json": {"schema": {"$ref": "#/components/schemas/AvailabilityMap"}}}


READS: list[tuple[str, dict[str, Any], Any]] = [
    ("availability", {"at": f"{MONDAY}T11:00", "neighbourhood": "101"}, schemas.Availability),
    ("availability", {"at": f"{MONDAY}T22:00", "neighbourhood": "101"}, schemas.Availability),  # not regulated
    ("availability", {"at": f"{MONDAY}T12:00", "lat": 40.4169, "lon": -3.7035}, schemas.Availability),
    ("availability", {"at": f"{MONDAY}T12:00", "address": "calle fuencaral 98"}, schemas.Availability),
    ("map", {"at": f"{MONDAY}T10:00"}, schemas.AvailabilityMap),
    ("map", {"at": f"{MONDAY}T23:00"}, schemas.AvailabilityMap),
    ("day", {"neighbourhood": "104", "date": str(MONDAY)}, schemas.DayCurve),
    ("addresses", {"q": "Paseo de la Castelana"}, list[schemas.AddressHit]),
    ("neighbourhoods", {}, list[schemas.NeighbourhoodSpaces]),
]


def dumped(answer: Any) -> Any:
    return [a.model_dump(mode="json") for a in answer] if isinstance(answer, list) else answer.model_dump(mode="json")


@pytest.mark.parametrize(("path", "params", "model"), READS, ids=[f"{p}-{i}" for i, (p, _, _) in enumerate(READS)])
def test_every_answer_is_its_model_field_for_field(api, path, params, model):
    response = api.get(f"/api/parking/{path}", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    answer = parse(model, body)
    assert dumped(answer) == body  # no field the model does not know, none it expects missing


def test_the_point_says_whether_it_was_found_or_given(api):
    found = parse(schemas.Availability, api.get("/api/parking/availability", params=READS[3][1]).json())
    given = parse(schemas.Availability, api.get("/api/parking/availability", params=READS[2][1]).json())
    assert isinstance(found.point, schemas.AddressPoint) and found.point.label == "CALLE DE FUENCARRAL 98"
    assert type(given.point) is schemas.Point and (given.point.lat, given.point.lon) == (40.4169, -3.7035)


def test_a_number_comes_with_its_method_and_no_number_with_a_message(api):
    day = parse(schemas.DayCurve, api.get("/api/parking/day", params=READS[6][1]).json())
    for hour in day.hours:
        if hour.regulated:
            assert hour.free_fraction is not None and hour.interval is not None and hour.method and not hour.message
        else:
            assert hour.free_fraction is None and hour.interval is None and hour.message and not hour.method
