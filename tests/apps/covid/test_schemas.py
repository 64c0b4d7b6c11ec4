"""The covid API's answers have a schema: the OpenAPI documents each one, and each real answer parses into its model
(the page parses into the same models, so a renamed field fails here rather than on the page)."""

from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from shipml.apps import get
from shipml.apps.covid import api as covid_api
from shipml.apps.covid import data, tasks
from shipml.apps.covid.schemas import (
    Demographics,
    Districts,
    Forecast,
    Metric,
    RefreshRecord,
    Series,
    Summary,
)
from shipml.core.api import create_app
from shipml.core.training import select_and_promote
from shipml.ui.client import parse

# every route of the covid router → the model its answer is documented with (a list: the model of its items)
DOCUMENTED: dict[str, tuple[type, bool]] = {
    "/metrics": (Metric, True),
    "/series": (Series, False),
    "/summary": (Summary, False),
    "/districts": (Districts, False),
    "/demographics": (Demographics, False),
    "/refreshes": (RefreshRecord, True),
    "/forecast": (Forecast, False),
}


def _success(operation: dict[str, Any]) -> list[dict[str, Any]]:
    return [answer for status, answer in operation["responses"].items() if status.startswith("2")]


def _ref_name(schema: dict[str, Any]) -> str:
    return str(schema.get("$ref", "")).rsplit("/", 1)[-1].removesuffix("-Output")


def test_every_covid_operation_documents_a_schema_for_its_answer(api):
    spec = api.get("/openapi.json").json()
    operations = {(method, path): op for path, ops in spec["paths"].items() if path.startswith("/api/covid/")
                  for method, op in ops.items()}
    assert len(operations) >= len(DOCUMENTED)
    for (method, path), operation in operations.items():
        contents = [c for answer in _success(operation) for c in answer.get("content", {}).values()]
        assert contents and all(c.get("schema") for c in contents), f"{method.upper()} {path} has no answer schema"
        for content in contents:  # a named model (or a list of one), not a bare object that says nothing
            schema = content["schema"]
            assert _ref_name(schema.get("items", schema)), f"{method.upper()} {path} answers an unnamed {schema}"


def test_every_route_of_the_covid_router_answers_a_named_model(api):
    routes = {r.path for r in covid_api.router.routes if isinstance(r, APIRoute)}
    assert routes == set(DOCUMENTED), "a new covid route needs its answer model (and a line in DOCUMENTED)"
    spec = api.get("/openapi.json").json()
    for path, (model, is_list) in DOCUMENTED.items():
        [answer] = _success(spec["paths"][f"/api/covid{path}"]["get"])
        schema = answer["content"]["application/json"]["schema"]
        if is_list:
            assert schema.get("type") == "array", path
            schema = schema["items"]
        assert _ref_name(schema) == model.__name__, f"{path} documents {schema}, not {model.__name__}"
        assert model.__name__ in spec["components"]["schemas"]


@pytest.fixture(scope="module")
def served(module_platform, shared_data):
    """The covid API with the real export loaded and a champion forecast (once for the module)."""
    data.refresh(str(shared_data / "covid" / "datasets_data.csv"))
    assert select_and_promote(tasks.model_spec()).promoted
    with TestClient(create_app([get("covid")]), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(("path", "params", "model"), [
    ("/metrics", {}, list[Metric]),
    ("/series", {"metric": "cases,deaths", "from": "2021-05-01", "to": "2021-05-31", "rolling": 7}, Series),
    ("/series", {"metric": "cases", "from": "2019-01-01", "to": "2019-12-31"}, Series),
    ("/summary", {}, Summary),
    ("/districts", {}, Districts),
    ("/demographics", {"from": "2021-01-01", "to": "2021-12-31"}, Demographics),
    ("/refreshes", {"limit": 5}, list[RefreshRecord]),
    ("/forecast", {"days": 7}, Forecast),
])
def test_each_answer_parses_into_its_model_and_back_to_the_same_json(served, path, params, model):
    response = served.get(f"/api/covid{path}", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    parsed = parse(model, body)
    assert body, f"{path} answered nothing to parse"
    # the model holds every field of the answer: nothing dropped, renamed or reshaped on the way
    dumped = [p.model_dump(mode="json") for p in parsed] if isinstance(parsed, list) else \
        parsed.model_dump(mode="json")
    assert dumped == body


def test_typed_answers_read_as_the_page_reads_them(served):
    summary = parse(Summary, served.get("/api/covid/summary").json())
    series = parse(Series, served.get("/api/covid/series", params={"metric": "cases", "from": "2023-05-31"}).json())
    assert series.dates[-1] == summary.date == series.covers.end
    assert series.covers.start.isoformat() == "2020-03-08" and series.note is None
    cases = next(h for h in summary.headline if h.id == "cases")
    assert cases.value == series.values["cases"][-1] and cases.label == "New cases"
    forecast = parse(Forecast, served.get("/api/covid/forecast", params={"days": 3}).json())
    assert forecast.params.kind in ("seasonal_naive", "loglinear_weekly") and len(forecast.forecast) == 3
    assert (forecast.forecast[0].date - summary.date).days == 1
