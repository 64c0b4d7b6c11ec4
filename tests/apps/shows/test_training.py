"""The shows recommender on the platform's one lifecycle: new ratings replace the champion (a tie goes to the newer
data) and the API serves it without a restart; a model fit on scrambled likes does not replace it. Plus the routes,
jobs and CLI options the platform builds from the app's declaration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient

from platform_fixtures import ADMIN_TOKEN
from shipml.apps import get
from shipml.apps.shows import catalog, ratings, tasks
from shipml.apps.shows.recommenders import Ease
from shipml.core import datasets, jobs
from shipml.core import platform as core
from shipml.core.api import create_app
from shipml.core.training import TrainingData, select_and_promote


@pytest.fixture
def ingested(platform):
    """A platform with the synthetic catalog and ratings ingested as the API and the CLI do it."""
    app = get("shows")
    core.register_jobs(app)
    result = core.ingest(app, "synthetic")
    assert result["status"] == "stored" and result["train_job"]
    return result


@pytest.fixture
def api(ingested):
    with TestClient(create_app([get("shows")]), raise_server_exceptions=False) as client:
        yield client


def _served(api, show_id: int) -> dict:
    response = api.get(f"/api/shows/{show_id}/similar", params={"n": 10})
    assert response.status_code == 200, response.text
    return response.json()


def _wait_served(api, show_id: int, version: int) -> dict:
    deadline = time.monotonic() + 60  # a bound on waiting (a model load on a busy machine), not a timing
    while (body := _served(api, show_id))["model_version"] != version:
        assert time.monotonic() < deadline, f"champion v{version} not served within 60 s (still {body})"
        time.sleep(0.25)
    return body


def test_new_ratings_replace_the_champion_and_are_served_and_scrambled_likes_are_not(api, monkeypatch):
    # one configuration only, so every training below refits the same configuration as the champion's
    monkeypatch.setattr(tasks, "candidates", lambda: {"ease": Ease().params})
    app = get("shows")
    first = core.train(app)
    assert first["promoted"] and first["version"] == 1 and first["candidate"] == "ease"

    # a new show, liked together with an existing one by 40 new users of the app
    catalog.import_shows(pl.DataFrame({"external_id": ["syn-new-1"], "title": ["Brand New Arrival"]}), "synthetic")
    new_show = catalog.search("Brand New Arrival", 1)[0]["id"]
    old_show = catalog.search("Throne", 1)[0]["id"]
    for _ in range(40):
        ratings.record_request_likes([old_show, new_show])
    before = _served(api, new_show)
    assert before["model_version"] == 1 and before["similar"] == []  # unknown to the champion

    # training the same configuration on the new ratings replaces the champion: what is served follows the data
    second = core.train(app)
    assert second["promoted"] and second["version"] == 2 and second["candidate"] == "ease", second["reason"]
    after = _wait_served(api, new_show, 2)
    assert after["similar"][0]["id"] == old_show

    # the same data again: a tie, and a tie goes to the newer model
    third = core.train(app)
    assert third["score"] == second["score"] and third["promoted"], third["reason"]
    assert "a tie goes to the newer data" in third["reason"]
    _wait_served(api, new_show, 3)

    # likes that passed every check but are garbage (each user's shows drawn at random): clearly worse, so the
    # model is registered but not served
    snap = datasets.require_latest(ratings.DATASET)
    likes = tasks._likes(snap.read())
    items = likes["item"].unique().to_numpy()
    rng = np.random.default_rng()
    scrambled = likes.with_columns(pl.Series("item", rng.choice(items, likes.height)))
    bad = select_and_promote(tasks.model_spec(), training=TrainingData(snap, scrambled))
    assert not bad.promoted and f"worse by more than the {tasks.TOLERANCE:.0%} tolerance" in bad.reason, bad.reason
    assert bad.version == 4 and _served(api, new_show)["model_version"] == 3


def test_status_health_and_admin_only_ingest_and_train_jobs(api):
    stored = datasets.require_latest(ratings.DATASET)
    queued = jobs.list_jobs(app="shows")
    assert [(j["name"], j["status"]) for j in queued] == [("train", "queued")]  # the stored ingest's retrain
    status = api.get("/api/shows/status").json()
    assert status["model"] == {"name": tasks.MODEL, "champion": None}
    assert status["data"]["version"] == stored.version
    assert api.get("/api/health").json()["apps"]["shows"]["model"]["name"] == tasks.MODEL
    assert api.post("/api/shows/train").status_code == 401
    assert api.post("/api/shows/ingest", headers={"Authorization": "Bearer nope"}).status_code == 403
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ingest = api.post("/api/shows/ingest", params={"source": "synthetic"}, headers=admin)
    assert ingest.status_code == 202 and jobs.get(ingest.json()["job_id"])["name"] == "ingest"
    train = api.post("/api/shows/train", headers=admin)
    assert train.status_code == 202 and jobs.get(train.json()["job_id"])["name"] == "train"


def test_the_app_declares_its_jobs_and_nightly_retraining(monkeypatch):
    app = get("shows")
    core.register_jobs(app)
    assert {"shows.ingest", "shows.train", "shows.eval", "shows.predict"} <= set(jobs.registered())
    assert [(s.job, s.minutes()) for s in app.schedules] == [("train", 1440)]
    monkeypatch.setenv("SHIPML_SHOWS_RETRAIN_MINUTES", "360")
    assert [s.minutes() for s in app.schedules] == [360]


def shipml(*args):
    run = subprocess.run([sys.executable, "-m", "shipml.cli", *args], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "COLUMNS": "200"})
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_eval_on_any_ratings_file_with_the_apps_own_options(platform, tmp_path):
    # two tastes: users 0-39 like items 0-9, users 40-79 like items 10-19, and rate the other group's items low
    rows = [(u, i, 5 if (u < 40) == (i < 10) else 1) for u in range(80) for i in range(20) if (u + i) % 3]
    path = tmp_path / "ratings.csv"
    path.write_text("member;show;stars\n" + "".join(f"{u};{i};{r}\n" for u, i, r in rows))
    out = shipml("eval", "shows", "--json", "--ratings", str(path), "--user-col", "member", "--item-col", "show",
                 "--rating-col", "stars", "--min-rating", "4")
    table = {row["model"]: row for row in map(json.loads, out.splitlines())}
    assert set(table) == {"popularity", "item_knn_graph", "ease", "als", "by_profile_length",
                          "by_profile_length_rerank"}
    assert table["ease"][tasks.METRIC] > table["popularity"][tasks.METRIC]
    assert all(row["catalog_items"] == 20 for row in table.values())  # only the likes (>= 4 stars) were read


def test_the_first_start_compares_every_candidate_but_the_slow_re_ranker():
    quick, full = tasks.quick_spec(), tasks.model_spec()
    assert set(full.candidates()) - set(quick.candidates()) == {"by_profile_length_rerank"}
    assert (quick.name, quick.metric, quick.holdout) == (full.name, full.metric, full.holdout)  # the same lifecycle
    assert get("shows").first_run.quick == "shipml.apps.shows.tasks:quick_spec"


def test_a_batch_of_predictions_is_ranked_together_and_a_bad_one_fails_alone(ingested, monkeypatch):
    """The worker ranks a batch with one call into the model; when that call fails, it ranks them one by one,
    so that only the bad prediction fails, and the good ones are answered exactly as alone."""
    monkeypatch.setattr(tasks, "candidates", lambda: {"ease": Ease().params})
    assert core.train(get("shows"))["promoted"]
    throne = [s["id"] for s in catalog.search("Throne", 3)]
    liked = [throne[:2], throne[2:]]
    contexts = [jobs.JobContext(f"job{i}", {"show_ids": ids, "n": n}) for i, (ids, n) in
                enumerate([(liked[0], 20), (liked[1], 20), (liked[0], 5)])]
    together = tasks.predict_many(contexts)
    assert together == [tasks.recommend(c.params["show_ids"], c.params["n"]) for c in contexts]
    assert [len(a["shows"]) for a in together] == [20, 20, 5]

    bad = jobs.JobContext("bad", {"show_ids": None})  # a record no request could make: the model cannot read it
    answers = tasks.predict_many([contexts[0], bad, contexts[1]])
    assert answers[0] == together[0] and answers[2] == together[1]
    assert isinstance(answers[1], Exception)
