"""Times the parking API is asked about: a time the model can say nothing about is a clear 4xx, never a 500 (a
timezone conversion that overflows at the ends of the calendar)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shipml.apps import get
from shipml.core.api import create_app


@pytest.fixture
def api(platform):
    with TestClient(create_app([get("parking")]), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("at", ["0001-01-01T00:00+14:00", "9999-12-31T23:59-14:00", "0001-01-01T00:00",
                                "9999-12-31T23:59", "1999-12-31T23:00", "2200-01-01T10:00Z"])
@pytest.mark.parametrize("path", ["availability", "map"])
def test_a_time_outside_the_supported_range_is_a_422_naming_the_range(api, path, at):
    response = api.get(f"/api/parking/{path}", params={"at": at, "neighbourhood": "101"})
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "2000-01-01" in message and "supported" in message


def test_a_time_inside_the_range_passes_the_time_check(api):
    response = api.get("/api/parking/availability", params={"at": "2024-03-04T10:00+14:00", "neighbourhood": "101"})
    assert response.status_code == 404 and "no parking model yet" in response.json()["error"]["message"]
