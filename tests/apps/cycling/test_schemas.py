"""The cycling API's contract: every operation's OpenAPI says what its answer looks like, and each of the app's own
routes names its model from ``cycling/schemas.py`` (answers parsing into those models: ``test_api.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from shipml.apps import get
from shipml.apps.cycling import schemas
from shipml.core.api import create_app

# the app's own routes → the model their 200 answer documents (the platform adds status, ingest, train and eval)
ANSWERS = {
    ("get", "/api/cycling/riders"): "RiderList",
    ("post", "/api/cycling/similar"): "SimilarRiders",
    ("get", "/api/cycling/races/{race}/similar"): "SimilarRaces",
    ("get", "/api/cycling/teams/{team}/similar"): "SimilarTeams",
    ("get", "/api/cycling/map"): "RiderMap",
    ("get", "/api/cycling/last-update"): "LastUpdate",
}
REF = "#/components/schemas/"


@pytest.fixture
def openapi(platform: Any) -> dict[str, Any]:
    return create_app([get("cycling")]).openapi()


def _operations(openapi: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): operation for path, item in openapi["paths"].items() if path.startswith("/api/cycling/")
            for method, operation in item.items()}


def test_every_cycling_operation_documents_a_2xx_answer_with_a_schema(openapi: dict[str, Any]) -> None:
    operations = _operations(openapi)
    assert set(ANSWERS) | {("get", "/api/cycling/races"), ("get", "/api/cycling/status")} <= set(operations)
    for key, operation in operations.items():
        ok = {status: r for status, r in operation["responses"].items() if status.startswith("2")}
        assert ok, f"{key}: no 2xx answer documented"
        for status, response in ok.items():
            schemas_given = [c.get("schema") for c in (response.get("content") or {}).values()]
            assert schemas_given and all(schemas_given), f"{key} {status}: no schema for its answer"


def test_each_route_of_the_app_names_its_answer_model(openapi: dict[str, Any]) -> None:
    operations = _operations(openapi)
    for key, model in ANSWERS.items():
        content = operations[key]["responses"]["200"]["content"]
        assert content == {"application/json": {"schema": {"$ref": REF + model}}}, key
        documented = openapi["components"]["schemas"][model]["properties"]
        assert list(documented) == list(getattr(schemas, model).model_fields), model
    races = operations[("get", "/api/cycling/races")]["responses"]["200"]["content"]["application/json"]["schema"]
    assert races["type"] == "array" and races["items"] == {"type": "string"}
    body = operations[("post", "/api/cycling/similar")]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": REF + "SimilarRequest"}


def test_a_rider_in_an_answer_documents_every_field_as_always_present() -> None:
    """Unknown values are null, never missing: a client may read every field of every rider."""
    for model in (schemas.Rider, schemas.Neighbour, schemas.MapPoint, schemas.ChosenRider):
        assert all(field.is_required() for field in model.model_fields.values()), model.__name__
