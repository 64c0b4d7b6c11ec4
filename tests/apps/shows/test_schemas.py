"""The shows API's contract: the OpenAPI documents the answer of every shows operation, and each answer the API gives
parses into its model of :mod:`shipml.apps.shows.schemas` (as the page parses it), through the real stores and a real
worker on the synthetic catalog."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from apps.shows import test_api
from shipml.apps.shows import catalog
from shipml.apps.shows.schemas import (
    RatingSaved,
    RecommendationAccepted,
    RecommendationAnswer,
    RecommendationDone,
    RecommendationFailed,
    RecommendationPending,
    RecommendationResult,
    RecommendedShow,
    ShowHit,
    SimilarShows,
    Suggestions,
)
from shipml.core import jobs
from shipml.ui import client

T = TypeVar("T")

trained, api, worker = test_api.trained, test_api.api, test_api.worker  # test_api's fixtures, reused
_poll, _titles = test_api._poll, test_api._titles

# the app's own routes: operation → {each success status: the documented answer, a component or [component]}
ANSWERS = {
    ("post", "/api/shows/recommendations"): {"202": "RecommendationAccepted", "200": "RecommendationAccepted"},
    ("get", "/api/shows/recommendations/{prediction_id}"): {"200": "RecommendationAnswer"},
    ("get", "/api/shows/search"): {"200": ["ShowHit"]},
    ("get", "/api/shows/{show_id}/similar"): {"200": "SimilarShows"},
    ("post", "/api/shows/ratings"): {"201": "RatingSaved"},
}


def _component(schema: dict[str, Any], spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = schema["$ref"].rsplit("/", 1)[-1]
    return name, spec["components"]["schemas"][name]


def _documented(schema: dict[str, Any], spec: dict[str, Any]) -> str | list[str]:
    """The name of the model a response schema refers to (``[name]`` for a list of them); fails on a free-form
    schema (``{}``, or an object of any properties)."""
    if schema.get("type") == "array":
        return [str(_documented(schema["items"], spec))]
    assert "$ref" in schema, f"not a model: {schema}"
    name, component = _component(schema, spec)
    assert component.get("properties") or component.get("oneOf"), f"{name} documents no fields: {component}"
    return name


def parse(model: type[T], answer: Any) -> T:
    """The answer parsed as the page parses it; dumped back, it is the same JSON (no field lost or renamed)."""
    parsed = client.parse(model, answer)
    dumped = parsed.model_dump(mode="json") if isinstance(parsed, BaseModel) else TypeAdapter(model).dump_python(
        parsed, mode="json")
    assert dumped == answer
    return parsed


def test_every_shows_operation_documents_its_answer(api) -> None:  # type: ignore[no-untyped-def]
    spec = api.get("/openapi.json").json()
    operations = {(method, path): op for path, ops in spec["paths"].items() if path.startswith("/api/shows/")
                  for method, op in ops.items()}
    assert set(ANSWERS) <= set(operations)
    for (method, path), op in operations.items():
        ok = {status: r for status, r in op["responses"].items() if status.startswith("2")}
        assert ok, f"{method} {path} documents no success"
        documented = {status: _documented(r["content"]["application/json"]["schema"], spec) for status, r in ok.items()}
        if (method, path) in ANSWERS:
            assert documented == ANSWERS[method, path], f"{method} {path}"


def test_the_poll_answer_is_one_of_three_by_status(api) -> None:  # type: ignore[no-untyped-def]
    spec = api.get("/openapi.json").json()
    answer = spec["components"]["schemas"]["RecommendationAnswer"]
    assert answer["discriminator"]["propertyName"] == "status"
    assert set(answer["discriminator"]["mapping"]) == {"pending", "failed", "done"}
    done = spec["components"]["schemas"]["RecommendationDone"]
    assert set(done["required"]) == {"prediction_id", "status", "model_version", "shows", "message", "new_to_model"}


def test_each_read_parses_into_its_model(api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Search hits, a 404's suggestions, the 202, a pending poll (no worker runs, and the API leaves predictions to
    it), similar shows and a saved rating."""
    from shipml.settings import get_settings

    monkeypatch.setenv("SHIPML_CHEAP_JOBS_IN_API", "false")
    get_settings.cache_clear()
    title = _titles(1)[0]
    hits = parse(list[ShowHit], api.get("/api/shows/search", params={"q": title}).json())
    assert hits[0].title == title and 0 < hits[0].score <= 1

    refused = api.post("/api/shows/recommendations", json={"shows": [title[:-1] + "qqqq zz"]})
    assert refused.status_code == 404
    assert isinstance(parse(Suggestions, refused.json()["error"]["details"]["suggestions"]), dict)

    response = api.post("/api/shows/recommendations", json={"shows": [title, "My Cousin's Home Videos"]})
    assert response.status_code == 202
    accepted = parse(RecommendationAccepted, response.json())
    assert [r.title for r in accepted.recognised] == [title]
    assert accepted.not_recognised == ["My Cousin's Home Videos"]

    polled = parse(RecommendationAnswer, api.get(f"/api/shows/recommendations/{accepted.prediction_id}").json())
    assert polled.root == RecommendationPending(prediction_id=accepted.prediction_id, status="pending")

    similar = parse(SimilarShows, api.get(f"/api/shows/{hits[0].id}/similar", params={"n": 5}).json())
    assert similar.show.id == hits[0].id and len(similar.similar) == 5 and similar.model_version is not None

    rating = {"user_id": accepted.user_id, "show_id": similar.similar[0].id, "liked": True}
    saved = parse(RatingSaved, api.post("/api/shows/ratings", json=rating).json())
    assert saved == RatingSaved(saved=True, **rating)


def test_done_and_failed_predictions_parse_into_their_models(api, worker) -> None:  # type: ignore[no-untyped-def]
    liked = _titles(2)
    prediction_id = api.post("/api/shows/recommendations", json={"shows": liked}).json()["prediction_id"]
    broken = jobs.submit("shows", "predict", show_ids=None)  # a prediction the worker cannot compute
    worker.start()
    answer = _poll(api, prediction_id)
    done = parse(RecommendationAnswer, answer).root
    assert isinstance(done, RecommendationDone), worker.output()
    # the stored result is passed on as it is: exactly the model's fields, each show's too, nothing else
    assert set(answer) == set(RecommendationDone.model_fields) and answer["prediction_id"] == prediction_id
    assert all(set(show) == set(RecommendedShow.model_fields) for show in answer["shows"])
    assert len(done.shows) == 20 and all(set(s.because) <= set(liked) for s in done.shows)
    assert catalog.get_shows([done.shows[0].id])[done.shows[0].id]["title"] == done.shows[0].title
    failed = parse(RecommendationAnswer, _poll(api, broken)).root
    assert isinstance(failed, RecommendationFailed) and failed.error, worker.output()


def test_a_result_that_breaks_the_contract_fails_its_own_prediction_only() -> None:
    """The API passes stored results on as they are: a score that is not a number fails that prediction visibly in
    the worker and leaves the others of its batch answered; what is stored parses as a RecommendationResult."""
    import math

    from shipml.apps.shows import tasks

    show = {"id": 7, "title": "Seven", "year": 2001, "genres": "Drama", "description": None, "poster_url": None,
            "verified": True, "source": "synthetic"}
    good = tasks._answered([7], 3, {7}, [{"show_id": 7, "score": 0.5, "because": [7]}], {7: show})
    bad = tasks._answered([7], 3, {7}, [{"show_id": 7, "score": math.nan, "because": []}], {7: show})
    assert isinstance(good, dict) and good["shows"][0]["reason"] == "because you liked Seven"
    assert RecommendationResult.model_validate(good).model_dump(mode="json") == good
    assert isinstance(bad, ValueError) and "not a number" in str(bad)
