"""The shows API as the original: submit titles → 202 → poll; with a real worker process and the synthetic
catalog (a few hundred shows in taste groups), through the real stores."""

import time

import pytest
from fastapi.testclient import TestClient

from platform_fixtures import Worker
from shipml.apps import get
from shipml.apps.shows import catalog, tasks
from shipml.core import platform
from shipml.core.api import create_app


@pytest.fixture(scope="module")
def trained(module_platform):
    tasks.ingest("synthetic")
    return platform.train(get("shows"))


@pytest.fixture
def api(trained):
    with TestClient(create_app([get("shows")]), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def worker(trained, tmp_path):
    w = Worker(tmp_path / "worker.log")
    yield w
    w.stop()


def _titles(n):
    return [s["title"] for s in catalog.search("Throne", n)]


def _poll(api, prediction_id, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(f"/api/shows/recommendations/{prediction_id}").json()
        if body["status"] != "pending" or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_training_compares_all_models_and_promotes_the_best(trained):
    assert set(trained["table"]) == {"popularity", "item_knn_graph", "ease", "als"}
    best = max(trained["table"], key=lambda m: trained["table"][m][tasks.METRIC])
    assert trained["candidate"] == best and trained["promoted"]


def test_eval_without_a_ratings_file_is_the_lifecycle_table_on_the_latest_export(trained):
    rows = platform.evaluate(get("shows"))
    assert {r["model"] for r in rows} == set(trained["table"])  # the champion's configuration is one of them
    assert all(0 < r[tasks.METRIC] <= 1 for r in rows)


def test_submit_then_poll_gives_recommendations_with_reasons(api, worker):
    worker.start()
    liked = _titles(3)
    accepted = api.post("/api/shows/recommendations", json={"shows": liked})
    assert accepted.status_code == 202
    body = accepted.json()
    assert [r["title"] for r in body["recognised"]] == liked and body["user_id"]
    done = _poll(api, body["prediction_id"])
    assert done["status"] == "done", (done, worker.output())
    shows = done["shows"]
    assert len(shows) == 20 and not {s["title"] for s in shows} & set(liked)
    assert all(s["reason"].startswith("because you liked") for s in shows[:5])
    assert all(set(s["because"]) <= set(liked) for s in shows)


def test_typo_titles_are_recognised(api):
    title = _titles(1)[0]
    typo = title[:2] + title[3:]  # one letter dropped
    body = api.post("/api/shows/recommendations", json={"shows": [typo]}).json()
    assert body["recognised"] == [{"query": typo, "id": body["recognised"][0]["id"], "title": title}]


@pytest.mark.parametrize("shows", [[], ["a", "b", "c", "d", "e", "f"]])
def test_zero_or_more_than_five_titles_is_422(api, shows):
    response = api.post("/api/shows/recommendations", json={"shows": shows})
    assert response.status_code == 422 and "shows" in response.json()["error"]["message"]


def test_nothing_recognised_is_404_with_suggestions_and_unknown_id_is_404(api):
    response = api.post("/api/shows/recommendations", json={"shows": ["qqqqzzzz xxyy"]})
    assert response.status_code == 404
    assert "no show recognised" in response.json()["error"]["message"]
    assert "suggestions" in response.json()["error"]["details"]
    assert api.get("/api/shows/recommendations/" + "0" * 32).status_code == 404


def test_an_unknown_title_next_to_known_ones_is_added_unverified(api):
    body = api.post("/api/shows/recommendations", json={"shows": [*_titles(1), "My Cousin's Home Videos"]}).json()
    assert body["added_unverified"] == ["My Cousin's Home Videos"]
    found = catalog.search("My Cousin's Home Videos", 1)[0]
    assert found["title"] == "My Cousin's Home Videos" and found["verified"] is False


def test_requests_made_while_the_worker_is_down_complete_after_it_restarts(api, worker):
    ids = [api.post("/api/shows/recommendations", json={"shows": _titles(2)}).json()["prediction_id"]
           for _ in range(5)]
    assert all(api.get(f"/api/shows/recommendations/{i}").json()["status"] == "pending" for i in ids)
    worker.start()
    for prediction_id in ids:
        assert _poll(api, prediction_id)["status"] == "done", worker.output()


def test_feedback_and_similar_and_search(api):
    show = catalog.search(_titles(1)[0], 1)[0]
    saved = api.post("/api/shows/ratings", json={"user_id": "anon-test", "show_id": show["id"], "liked": False})
    assert saved.status_code == 201
    assert api.post("/api/shows/ratings", json={"user_id": "anon-test", "show_id": 10**9,
                                                "liked": True}).status_code in (404, 422)
    similar = api.get(f"/api/shows/{show['id']}/similar", params={"n": 5}).json()
    assert len(similar["similar"]) == 5 and show["id"] not in {s["id"] for s in similar["similar"]}
    hits = api.get("/api/shows/search", params={"q": show["title"]}).json()
    assert hits[0]["id"] == show["id"]
    assert api.get("/api/shows/search", params={"q": ""}).status_code == 422
