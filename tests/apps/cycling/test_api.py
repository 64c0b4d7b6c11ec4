"""The cycling API on the synthetic dataset (known riders and specialties), through the real stores."""

import json
import time

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient

from platform_fixtures import ADMIN_TOKEN
from shipml.apps import get
from shipml.apps.cycling import data, tasks
from shipml.apps.cycling.schemas import LastUpdate, RiderList, RiderMap, SimilarRaces, SimilarRiders, SimilarTeams
from shipml.core import platform, registry
from shipml.core.api import create_app
from shipml.core.training import TrainingData, select_and_promote
from shipml.ui.client import parse


@pytest.fixture(scope="module")
def trained(module_platform):
    """Ingest the synthetic dataset and train once for the module (training takes seconds)."""
    tasks.ingest("synthetic")
    return platform.train(get("cycling"))


@pytest.fixture
def api(trained):
    with TestClient(create_app([get("cycling")]), raise_server_exceptions=False) as client:
        yield client


def _top_rider(api):
    return api.get("/api/cycling/riders", params={"limit": 1}).json()["riders"][0]


def test_training_logs_every_model_and_promotes_the_best(trained):
    table = trained["table"]
    assert set(table) == {"cosine_baseline", "factor_als", "factor_evidence", "factor_evidence_walk"}
    assert all({tasks.METRIC, "specialty_ratio", "holdout_spearman", "holdout_spearman_knn"} <= set(t)
               for t in table.values())
    best = max(table, key=lambda name: table[name][tasks.METRIC])
    assert trained["candidate"] == best and trained["promoted"]
    assert registry.champion_version(tasks.MODEL) == trained["version"]


def test_riders_list_has_name_nationality_age_results_confidence(api):
    body = api.get("/api/cycling/riders", params={"limit": 5}).json()
    assert body["total"] > 100 and len(body["riders"]) == 5
    first = body["riders"][0]
    assert {"rider", "name", "nationality", "age", "results", "low_confidence"} <= set(first)
    assert [r["results"] for r in body["riders"]] == sorted((r["results"] for r in body["riders"]), reverse=True)
    found = api.get("/api/cycling/riders", params={"q": first["name"][:5]}).json()
    assert first["rider"] in {r["rider"] for r in found["riders"]}


def test_similar_riders_by_slug_or_name_with_filters(api):
    me = _top_rider(api)
    body = api.post("/api/cycling/similar", json={"rider": me["name"], "n": 5}).json()
    assert body["rider"]["rider"] == me["rider"] and len(body["neighbours"]) == 5
    sims = [n["similarity"] for n in body["neighbours"]]
    assert sims == sorted(sims, reverse=True) and me["rider"] not in {n["rider"] for n in body["neighbours"]}
    country = body["neighbours"][0]["nationality"]
    filtered = api.post("/api/cycling/similar", json={"rider": me["rider"], "n": 5, "countries": [country],
                                                      "age_min": 20, "age_max": 45}).json()
    assert filtered["neighbours"] and all(n["nationality"] == country for n in filtered["neighbours"])
    assert all(20 <= n["age"] <= 45 for n in filtered["neighbours"])


@pytest.fixture
def versions_kept(monkeypatch):
    """Data versions reused for an hour (not one second): what is kept stays fresh however slow the machine."""
    from shipml.settings import get_settings

    monkeypatch.setenv("SHIPML_VERSION_CHECK_SECONDS", "3600")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_a_repeated_similar_request_is_answered_from_what_is_kept(api, versions_kept, monkeypatch):
    from shipml.apps.cycling import api as cycling_api

    me = _top_rider(api)
    asked = {"rider": me["rider"], "n": 3, "age_min": 18}
    first = api.post("/api/cycling/similar", json=asked)
    assert first.status_code == 200

    def worked_out_again():
        raise RuntimeError("the repeat was worked out again")

    monkeypatch.setattr(cycling_api, "_state", worked_out_again)
    again = api.post("/api/cycling/similar", json=asked)
    assert again.status_code == 200 and again.content == first.content  # the kept answer, on the loop
    hit = api.post("/api/cycling/similar", json=asked)  # the same body again: before routing
    assert hit.headers["x-cache"] == "hit" and hit.content == first.content
    reordered = api.post("/api/cycling/similar", content=json.dumps(dict(reversed(asked.items()))),
                         headers={"content-type": "application/json"})  # another body, the same request
    assert reordered.content == first.content and "x-cache" not in reordered.headers
    assert api.post("/api/cycling/similar", json={**asked, "n": 4}).status_code == 500  # new: worked out
    assert api.post("/api/cycling/similar", json={**asked, "n": 0}).status_code == 422  # validated first


def test_a_typo_in_a_name_resolves_and_an_unknown_rider_is_404_with_close_names(api):
    me = _top_rider(api)
    typo = me["name"][:-1]  # the last letter lost
    assert api.post("/api/cycling/similar", json={"rider": typo}).json()["rider"]["rider"] == me["rider"]
    surname = me["name"].split()[-1]
    found = api.get("/api/cycling/riders", params={"q": surname[:2] + surname[1:]}).json()  # one letter doubled
    assert me["rider"] in [r["rider"] for r in found["riders"]]
    response = api.post("/api/cycling/similar", json={"rider": "Qwzx " + me["name"]})
    assert response.status_code == 404
    assert me["rider"] in [s["rider"] for s in response.json()["error"]["details"]["suggestions"]]
    long = api.post("/api/cycling/similar", json={"rider": "x" * 100_000})
    assert long.status_code == 422 and len(long.text) < 1000  # refused at the edge, not echoed back


def test_bad_age_range_is_422_and_empty_filters_are_200_with_a_message(api):
    me = _top_rider(api)
    bad = api.post("/api/cycling/similar", json={"rider": me["rider"], "age_min": 40, "age_max": 30})
    assert bad.status_code == 422 and "age_min (40) is greater than age_max (30)" in bad.json()["error"]["message"]
    unknown = api.post("/api/cycling/similar", json={"rider": me["rider"], "countries": ["AQ"]})
    assert unknown.status_code == 422 and "no rider has the nationality AQ" in unknown.json()["error"]["message"]
    assert api.post("/api/cycling/similar", json={"rider": me["rider"], "countries": ["FRA"]}).status_code == 422
    empty = api.post("/api/cycling/similar", json={"rider": me["rider"], "age_min": 59, "age_max": 60})
    assert empty.status_code == 200 and empty.json()["neighbours"] == []
    assert "no rider matches" in empty.json()["message"]


def test_similar_races_and_teams_and_map(api):
    races = api.get("/api/cycling/races").json()
    body = api.get(f"/api/cycling/races/{races[0]}/similar", params={"n": 3}).json()
    assert len(body["similar"]) == 3 and races[0] not in {r["race"] for r in body["similar"]}
    assert api.get("/api/cycling/races/no-such-race/similar").status_code == 404
    team = _top_rider(api)["team"]
    teams = api.get(f"/api/cycling/teams/{team}/similar", params={"n": 2}).json()
    assert len(teams["similar"]) == 2
    points = api.get("/api/cycling/map").json()["points"]
    assert len(points) == api.get("/api/cycling/riders").json()["total"]
    assert all(isinstance(p["x"], float) and isinstance(p["y"], float) for p in points)


def test_every_read_parses_into_its_model(api):
    """What the page reads is what ``schemas.py`` says: each answer parses into its model, no field left over."""
    listing = parse(RiderList, api.get("/api/cycling/riders", params={"limit": 1000}).json())
    assert listing.total == len(listing.riders) > 100 and listing.model_version >= 1
    weak = next(r for r in listing.riders if r.low_confidence)
    answer = parse(SimilarRiders, api.post("/api/cycling/similar", json={"rider": weak.rider, "n": 5}).json())
    assert answer.rider.rider == weak.rider and answer.rider.confidence.reasons and len(answer.neighbours) == 5
    assert answer.message and answer.message.startswith("low confidence")
    empty = parse(SimilarRiders, api.post("/api/cycling/similar",
                                          json={"rider": weak.rider, "age_min": 59, "age_max": 60}).json())
    assert empty.neighbours == [] and empty.message
    race = api.get("/api/cycling/races").json()[0]
    assert parse(SimilarRaces, api.get(f"/api/cycling/races/{race}/similar").json()).race == race
    team = next(r.team for r in listing.riders if r.team)
    assert parse(SimilarTeams, api.get(f"/api/cycling/teams/{team}/similar").json()).similar
    assert len(parse(RiderMap, api.get("/api/cycling/map").json()).points) == listing.total
    update = parse(LastUpdate, api.get("/api/cycling/last-update").json())
    assert update.synthetic and update.latest_result is not None and update.model.champion == listing.model_version
    for model, path in [(RiderList, "/riders"), (RiderMap, "/map"), (LastUpdate, "/last-update")]:
        assert set(api.get(f"/api/cycling{path}").json()) == set(model.model_fields), path  # no field undocumented


def test_last_update_and_health_say_synthetic(api):
    body = api.get("/api/cycling/last-update").json()
    assert body["synthetic"] is True and body["latest_result"].startswith("2025")
    assert body["model"]["champion"] is not None
    status = api.get("/api/cycling/status").json()
    assert status["data"]["synthetic"] is True and status["model"] == body["model"]
    assert api.get("/api/health").json()["apps"]["cycling"]["model"]["champion"] == body["model"]["champion"]


def test_ingest_and_train_are_admin_jobs(api):
    assert api.post("/api/cycling/ingest", params={"source": "synthetic"}).status_code == 401
    assert api.post("/api/cycling/train").status_code == 401
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    queued = api.post("/api/cycling/ingest", params={"source": "synthetic"}, headers=admin)
    assert queued.status_code == 202 and api.get(f"/api/jobs/{queued.json()['job_id']}").status_code == 200


def _wait_served(api, version: int) -> None:
    deadline = time.monotonic() + 60  # a bound on waiting (a model load on a busy machine), not a timing
    while api.get("/api/cycling/riders", params={"limit": 1}).json()["model_version"] != version:
        assert time.monotonic() < deadline, f"champion v{version} not served within 60 s"
        time.sleep(0.25)


def test_retraining_on_new_data_replaces_the_champion_and_corrupted_data_does_not(api, trained):
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    spec = tasks.model_spec()
    snap, results, riders = data.load()
    rng = np.random.default_rng(7)

    # a new revision of the data (5 % of the results differ): every configuration, the champion's included, is
    # refit on it and the best replaces the champion, even on a tie — what is served follows the data
    revised = results.filter(pl.Series(rng.random(results.height) >= 0.05))
    newer = select_and_promote(spec, training=TrainingData(snap, tasks.Results(revised, riders)))
    assert newer.promoted and newer.version > trained["version"], newer.reason
    _wait_served(api, newer.version)

    # data that passes validation but is garbage (every result given to a random rider): its best model's neighbours
    # are no better than random riders, far below the champion's lift, so it is registered but not served
    garbage = results.with_columns(rider=pl.Series(rng.permutation(results["rider"].to_numpy())))
    bad = select_and_promote(spec, training=TrainingData(snap, tasks.Results(garbage, riders)))
    assert not bad.promoted and "worse by more than the 10% tolerance" in bad.reason, bad.reason
    assert registry.champion_version(tasks.MODEL) == newer.version
    assert api.get("/api/cycling/riders", params={"limit": 1}).json()["model_version"] == newer.version

    # an operator moves the alias back by hand: served within 10 s, no restart
    moved = api.post(f"/api/models/{tasks.MODEL}/champion", params={"version": trained["version"]}, headers=admin)
    assert moved.status_code == 200
    _wait_served(api, trained["version"])
