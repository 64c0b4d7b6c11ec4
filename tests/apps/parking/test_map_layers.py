"""The map's answers: a day of every neighbourhood in one answer (the slider's data), and the base layer of streets
drawn from the bundled street list."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from shipml.apps import get
from shipml.apps.parking import ingest, tasks
from shipml.apps.parking.schemas import AvailabilityMap, DayMap, StreetMap
from shipml.apps.parking.streets import overlap
from shipml.core.api import create_app
from shipml.core.training import select_and_promote

LAST = date(2024, 3, 1)  # a Friday; forecasts run the next 7 days
MONDAY = LAST + timedelta(days=3)


@pytest.fixture(scope="module")
def api(module_platform, tmp_path_factory):
    folder = ingest.simulate(tmp_path_factory.mktemp("tickets"), weeks=3, last=LAST, scale=0.02)
    ingest.refresh(str(folder))
    select_and_promote(tasks.model_spec(tasks.QUICK_MODELS, origins=1))
    with TestClient(create_app([get("parking")]), raise_server_exceptions=False) as client:
        yield client


def test_the_day_map_holds_every_hour_the_map_answers(api):
    response = api.get("/api/parking/map/day", params={"date": str(MONDAY)})
    assert response.status_code == 200, response.text
    day = DayMap.model_validate(response.json())
    assert day.regulated == [9 <= h < 21 for h in range(24)] and day.level == 80 and day.synthetic
    assert len(day.neighbourhoods) == 60
    for hour in (8, 11, 17):
        at = AvailabilityMap.model_validate(api.get("/api/parking/map", params={"at": f"{MONDAY}T{hour:02}:00"}).json())
        by_id = {n.id: n for n in day.neighbourhoods}
        for feature in at.features:
            n, props = by_id[feature.id], feature.properties
            assert n.free_fraction[hour] == props.free_fraction and n.free_spaces[hour] == props.free_spaces
            if props.interval is not None:
                assert (n.low[hour], n.high[hour]) == props.interval.free_fraction
            else:
                assert n.low[hour] is None and n.high[hour] is None
    empty = [n for n in day.neighbourhoods if n.spaces == 0]
    assert len(empty) == 1 and set(empty[0].free_fraction) == {None}


def test_the_day_map_refuses_a_bad_date(api):
    response = api.get("/api/parking/map/day", params={"date": "monday"})
    assert response.status_code == 422


def test_the_base_layer_is_the_streets_of_the_bundled_list(api):
    response = api.get("/api/parking/streets")
    assert response.status_code == 200
    base = StreetMap.model_validate(response.json())
    assert 5_000 < len(base.segments) < 20_000  # simplified, each side of each street
    lons = [c for s in base.segments for c in (s[0], s[2])]
    lats = [c for s in base.segments for c in (s[1], s[3])]
    assert -3.76 < min(lons) < max(lons) < -3.63 and 40.37 < min(lats) < max(lats) < 40.50  # Madrid's SER zone
    names = [label.name for label in base.labels]
    assert names[0] == "PASEO DE LA CASTELLANA" and base.labels[0].short == "Castellana" and len(names) == 30
    kept = [(label.name, label.short, label.lon, label.lat, label.length_m) for label in base.labels]
    assert not any(overlap(a, b) for n, a in enumerate(kept) for b in kept[:n])  # no label drawn over another
    assert [label.length_m for label in base.labels] == sorted((label.length_m for label in base.labels), reverse=True)
    assert "2023-08" in base.source


def test_two_labels_overlap_when_their_boxes_meet():
    at = ("CALLE DE AYALA", "Ayala", -3.68, 40.43, 1000.0)
    assert overlap(at, ("CALLE DE GOYA", "Goya", -3.68, 40.43, 900.0))
    assert not overlap(at, ("CALLE DE GOYA", "Goya", -3.68, 40.43 + 300 / 111_320, 900.0))  # 300 m north
    # 500 m east: clear of a short name, under a long one (about 75 m per letter at the page's scale)
    assert not overlap(at, ("CALLE DE GOYA", "Goya", -3.68 + 500 / 84_800, 40.43, 900.0))
    assert overlap(at, ("X", "Conde de Peñalver Extended", -3.68 + 500 / 84_800, 40.43, 900.0))
