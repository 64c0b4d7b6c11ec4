"""The race definition endpoint's doors: auth before the body, a 405 that names every method, one OpenAPI
operation id per operation, and malformed JSON answered with a documented 4xx."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from apps.race import live_race
from platform_fixtures import ADMIN_TOKEN
from shipml.apps import get
from shipml.core.api import create_app

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def api(module_platform: Any) -> Iterator[TestClient]:
    with TestClient(create_app([get("race")]), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"title": 3}', b""])
def test_defining_a_race_checks_the_token_before_the_body(api: TestClient, body: bytes) -> None:
    assert api.put("/api/race/races/door", content=body, headers=JSON).status_code == 401
    wrong = {**JSON, "Authorization": "Bearer nope"}
    assert api.put("/api/race/races/door", content=body, headers=wrong).status_code == 403
    r = api.put("/api/race/races/door", content=body, headers={**JSON, **ADMIN})
    assert r.status_code == 422 and r.json()["error"]["message"]


def test_a_405_on_a_race_names_get_and_put(api: TestClient) -> None:
    for method in ("DELETE", "PATCH", "POST"):
        r = api.request(method, "/api/race/races/door")
        assert r.status_code == 405, method
        assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "PUT"}


def test_every_race_operation_has_its_own_id_and_documents_its_errors(api: TestClient) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FastAPI warns of a duplicate operation id on every /docs load
        schema = api.app.openapi()  # type: ignore[attr-defined]
    operations = [(path, method, op) for path, ops in schema["paths"].items() if path.startswith("/api/race")
                  for method, op in ops.items()]
    ids = [op["operationId"] for _, _, op in operations]
    assert len(ids) == len(set(ids))
    assert {m for p, m, _ in operations if p.endswith("/osmand")} == {"get", "post"}
    for path, _, op in operations:
        if path.endswith(("/pings", "/osmand", "/owntracks")):
            assert {"401", "403", "422", "429", "507"} <= set(op["responses"]), path
    put = schema["paths"]["/api/race/races/{race}"]["put"]
    assert {"401", "403", "422"} <= set(put["responses"])
    assert "course" in put["requestBody"]["content"]["application/json"]["schema"]["properties"]


@pytest.mark.parametrize(("method", "path"), [("put", "/api/race/races/door"), ("post", "/api/race/door/pings"),
                                              ("post", "/api/race/door/osmand"), ("post", "/api/race/door/owntracks")])
def test_malformed_json_on_a_race_endpoint_is_a_documented_4xx(api: TestClient, method: str, path: str) -> None:
    gun = live_race.gun_now()
    r = api.put("/api/race/races/door", json=live_race.race_body(gun), headers=ADMIN)
    headers = {**JSON, "X-Ingest-Key": r.json()["ingest_key"], **(ADMIN if method == "put" else {})}
    r = api.request(method.upper(), path, content=b'{"pings": [', headers=headers)
    assert r.status_code == 422 and "JSON" in r.json()["error"]["message"], r.text
    documented = api.app.openapi()["paths"][path.replace("door", "{race}")][method]["responses"]  # type: ignore[attr-defined]
    assert "422" in documented
