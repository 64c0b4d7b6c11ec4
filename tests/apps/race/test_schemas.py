"""The race API's contract: every operation documents the schema of its answer (each of the app's routes names its
model from ``race/schemas.py``), and every answer is its model, field for field (what the page parses is what the
API sends), for the public and the admin caller, before and after the standings exist."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from apps.race import live_race
from apps.race.test_api import ADMIN, process
from shipml.apps import get
from shipml.apps.race import schemas
from shipml.core.api import create_app
from shipml.ui.client import parse

REF = "#/components/schemas/"
# the app's own routes → the model their 200 answer documents (the platform adds the app's status)
ANSWERS = {
    ("get", "/api/race/races/{race}"): "RaceSummary",
    ("put", "/api/race/races/{race}"): "RaceSummary",
    ("post", "/api/race/{race}/pings"): "BatchReceipt",
    ("post", "/api/race/{race}/runners/{bib}/dnf"): "DnfMark",
    ("get", "/api/race/{race}/leaderboard"): "Leaderboard",
    ("get", "/api/race/{race}/search"): "SearchHits",
    ("get", "/api/race/{race}/runners/{bib}"): "RunnerDetail",
    ("get", "/api/race/{race}/progress"): "LeadersProgress",
    ("get", "/api/race/{race}/stats"): "LiveStats",
    ("get", "/api/race/{race}/course"): "CourseMap",
}


@pytest.fixture(scope="module")
def api(module_platform: Any) -> Iterator[TestClient]:
    with TestClient(create_app([get("race")]), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def answers(api: TestClient) -> dict[str, Any]:
    """Two races: ``hand`` with its pings processed (standings published), ``fresh`` defined only."""
    gun = live_race.gun_now()
    defined = api.put("/api/race/races/hand", json=live_race.race_body(gun), headers=ADMIN)
    assert defined.status_code == 200, defined.text
    key = {"X-Ingest-Key": defined.json()["ingest_key"]}
    body = live_race.pings(gun) + [{"device": "nobody", "t": gun + 100, "lat": 47.37, "lon": 8.54}]
    stored = api.post("/api/race/hand/pings", json={"pings": body}, headers=key)
    assert stored.status_code == 200, stored.text
    process("hand")
    fresh = api.put("/api/race/races/fresh", json=live_race.race_body(gun), headers=ADMIN)
    assert fresh.status_code == 200, fresh.text
    dnf = api.post("/api/race/fresh/runners/3/dnf", params={"dnf": "true"}, headers=ADMIN)
    assert dnf.status_code == 200, dnf.text
    return {"defined": defined.json(), "stored": stored.json(), "dnf": dnf.json()}


@pytest.fixture(scope="module")
def openapi(api: TestClient) -> dict[str, Any]:
    answer = api.get("/openapi.json")
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def _operations(openapi: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): operation for path, item in openapi["paths"].items() if path.startswith("/api/race/")
            for method, operation in item.items()}


def test_every_race_operation_documents_a_2xx_answer_with_a_schema(openapi: dict[str, Any]) -> None:
    operations = _operations(openapi)
    plain = {("get", "/api/race/races"), ("get", "/api/race/{race}/osmand"), ("post", "/api/race/{race}/osmand"),
             ("post", "/api/race/{race}/owntracks")}
    assert set(ANSWERS) | plain <= set(operations)
    for key, operation in operations.items():
        ok = {status: r for status, r in operation["responses"].items() if status.startswith("2")}
        assert ok, f"{key}: no 2xx answer documented"
        for status, response in ok.items():
            given = [media.get("schema") for media in (response.get("content") or {}).values()]
            assert given and all(given), f"{key} {status}: no schema for its answer"


def test_each_route_of_the_app_names_its_answer_model(openapi: dict[str, Any]) -> None:
    operations = _operations(openapi)
    for key, model in ANSWERS.items():
        content = operations[key]["responses"]["200"]["content"]
        assert content == {"application/json": {"schema": {"$ref": REF + model}}}, key
        documented = openapi["components"]["schemas"][model]["properties"]
        assert list(documented) == list(getattr(schemas, model).model_fields), model
    races = operations[("get", "/api/race/races")]["responses"]["200"]["content"]["application/json"]["schema"]
    assert races["type"] == "array" and races["items"] == {"$ref": REF + "RaceSummary"}
    for method in ("get", "post"):
        ok = operations[(method, "/api/race/{race}/osmand")]["responses"]["200"]["content"]
        assert ok == {"text/plain": {"schema": {"type": "string", "enum": ["OK"]}}}
    ok = operations[("post", "/api/race/{race}/owntracks")]["responses"]["200"]["content"]
    assert ok == {"application/json": {"schema": {"type": "array", "maxItems": 0}}}


def test_the_admin_only_fields_are_documented_as_optional(openapi: dict[str, Any]) -> None:
    summary = openapi["components"]["schemas"]["RaceSummary"]
    assert {"ingest_key", "duration_h", "storage"} <= set(summary["properties"])
    assert not {"ingest_key", "duration_h", "storage"} & set(summary["required"])
    assert {"name", "title", "start", "runners", "checkpoints", "categories"} <= set(summary["required"])
    runner = openapi["components"]["schemas"]["RunnerDetail"]
    assert "track" in runner["properties"] and "track" not in runner["required"]


# (path, query, admin?, model)
READS: list[tuple[str, dict[str, Any], bool, Any]] = [
    ("races", {}, False, list[schemas.RaceSummary]),
    ("races", {}, True, list[schemas.RaceSummary]),
    ("races/hand", {}, False, schemas.RaceSummary),
    ("races/hand", {}, True, schemas.RaceSummary),
    ("hand/leaderboard", {"limit": 10}, False, schemas.Leaderboard),
    ("hand/leaderboard", {"category": "W", "limit": 1, "offset": 1}, False, schemas.Leaderboard),
    ("hand/search", {"q": "2"}, False, schemas.SearchHits),
    ("hand/search", {"q": "eve schnieder"}, False, schemas.SearchHits),
    ("fresh/search", {"q": "Okafr"}, False, schemas.SearchHits),  # no standings yet: entrants only
    ("hand/runners/1", {}, False, schemas.RunnerDetail),
    ("hand/runners/1", {"track": "false"}, False, schemas.RunnerDetail),
    ("hand/runners/4", {}, False, schemas.RunnerDetail),  # never seen: no position, no rank
    ("hand/progress", {"top": 3}, False, schemas.LeadersProgress),
    ("hand/stats", {}, False, schemas.LiveStats),
    ("hand/course", {"points": 50}, False, schemas.CourseMap),
]


def dumped(answer: Any) -> Any:
    return [a.model_dump(mode="json") for a in answer] if isinstance(answer, list) else answer.model_dump(mode="json")


@pytest.mark.parametrize(("path", "params", "admin", "model"), READS,
                         ids=[f"{p}-{i}" for i, (p, _, _, _) in enumerate(READS)])
def test_every_read_is_its_model_field_for_field(api: TestClient, answers: dict[str, Any], path: str,
                                                 params: dict[str, Any], admin: bool, model: Any) -> None:
    response = api.get(f"/api/race/{path}", params=params, headers=ADMIN if admin else {})
    assert response.status_code == 200, response.text
    body = response.json()
    answer = parse(model, body)
    assert dumped(answer) == body  # no field the model does not know, none it expects missing


@pytest.mark.parametrize(("name", "model"), [("defined", schemas.RaceSummary), ("stored", schemas.BatchReceipt),
                                             ("dnf", schemas.DnfMark)])
def test_every_write_answer_is_its_model_field_for_field(answers: dict[str, Any], name: str, model: Any) -> None:
    assert dumped(parse(model, answers[name])) == answers[name]


def test_what_a_caller_sees_depends_on_who_asks_and_what_exists(api: TestClient, answers: dict[str, Any]) -> None:
    public = parse(schemas.RaceSummary, api.get("/api/race/races/hand").json())
    admin = parse(schemas.RaceSummary, api.get("/api/race/races/hand", headers=ADMIN).json())
    assert public.ingest_key is None and public.storage is None and public.duration_h is None
    assert admin.ingest_key and admin.storage and admin.storage.budget_bytes > 0 and admin.duration_h == 8.0
    found = parse(schemas.SearchHits, api.get("/api/race/fresh/search", params={"q": "Okafr"}).json())
    assert [type(r) for r in found.rows] == [schemas.Entrant] and found.rows[0].bib == "2"
    ranked = parse(schemas.SearchHits, api.get("/api/race/hand/search", params={"q": "Okafr"}).json())
    assert isinstance(ranked.rows[0], schemas.RunnerLine) and ranked.rows[0].rank == 3
    ana = parse(schemas.RunnerDetail, api.get("/api/race/hand/runners/1").json())
    assert ana.track and ana.position and ana.splits[0].time_s == pytest.approx(180.0, abs=0.01)
    assert parse(schemas.RunnerDetail, api.get("/api/race/hand/runners/1", params={"track": "false"}).json()).track \
        is None
    dan = parse(schemas.RunnerDetail, api.get("/api/race/hand/runners/4").json())
    assert dan.position is None and dan.rank is None and dan.status == "not_started"
    stats = parse(schemas.LiveStats, api.get("/api/race/hand/stats").json())
    assert stats.status.running + stats.status.stale == 4 and stats.status.not_started == 1
