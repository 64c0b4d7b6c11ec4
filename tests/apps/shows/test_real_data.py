"""From the synthetic demo to real data without further steps: ``shipml ingest shows --source <folder>`` replaces
the demo and queues one training, which a running worker does and the API then serves, so a real title typed gets
real recommendations (even with an unverified stub of that title from the demo days); ``SHIPML_SHOWS_SOURCE`` set
on a home that still holds the demo switches it when the product starts."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient

from platform_fixtures import Worker, wait_for
from shipml.apps import get
from shipml.apps.shows import catalog, ratings, tasks
from shipml.apps.shows.recommenders import ByProfileLength, Popularity
from shipml.core import datasets, first_run, jobs, registry
from shipml.core import platform as core
from shipml.core.api import create_app
from shipml.settings import get_settings

QUICK = {"by_profile_length": ByProfileLength().params}  # what the worker plug-in shows_quick_training compares


@pytest.fixture
def demo(platform, monkeypatch):
    """The product as a first start leaves it: the synthetic demo ingested and a champion trained on it. Every
    training here compares one quick configuration (``shows_quick_training``): what these tests check is the switch
    to real data, and a training on the real likes refits the champion's configuration too (the re-ranker's fit
    alone takes about a minute)."""
    monkeypatch.setattr(tasks, "candidates", lambda: dict(QUICK))
    monkeypatch.setenv("SHIPML_RETRAIN_DEBOUNCE_SECONDS", "0")
    get_settings.cache_clear()
    app = get("shows")
    core.register_jobs(app)
    tasks.ingest("synthetic")  # as `shipml up` prepares it: ingest, then train at once (nothing queued)
    assert core.train(app)["version"] == 1 and jobs.list_jobs(app="shows") == []
    return app


def _poll(api, prediction_id, timeout=60):
    deadline = time.monotonic() + timeout
    while (body := api.get(f"/api/shows/recommendations/{prediction_id}").json())["status"] == "pending":
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
    return body


def test_ingesting_real_data_retrains_and_serves_real_recommendations(demo, shows_dir, tmp_path):
    stub = catalog.add_unverified("Death Note")  # what a request for "Death Note" once left in the demo catalog
    with TestClient(create_app([demo]), raise_server_exceptions=False) as api:
        assert api.get("/api/health").json()["apps"]["shows"]["data"]["synthetic"] is True

        run = subprocess.run([sys.executable, "-m", "shipml.cli", "ingest", "shows", "--source", str(shows_dir)],
                             capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
        assert run.returncode == 0, run.stdout + run.stderr
        assert "training queued" in run.stdout, run.stdout
        assert [(j["name"], j["status"]) for j in jobs.list_jobs(app="shows")] == [("train", "queued")]
        snapshot = datasets.require_latest(ratings.DATASET)
        assert not snapshot.synthetic and snapshot.rows == 288_869  # the demo's shows and ratings are gone
        assert catalog.count() == 2487 + 1 and catalog.search("Dragon Throne") == []

        worker = Worker(tmp_path / "worker.log", imports=("sample_jobs", "shows_quick_training")).start()
        try:
            version = wait_for(lambda: (v := registry.champion_version(tasks.MODEL)) and v >= 2 and v,
                               timeout=240, every=1, what="the queued retraining on the real data")
            status = api.get("/api/shows/status").json()
            assert status["model"]["champion"] == version and status["data"]["synthetic"] is False

            answer = api.post("/api/shows/recommendations", json={"shows": ["Death Note", "Naruto (2006)"]})
            assert answer.status_code == 202, answer.text
            recognised = answer.json()["recognised"]
            death_note = catalog.get_shows([recognised[0]["id"]])[recognised[0]["id"]]
            assert recognised[0]["id"] != stub["id"] and death_note["verified"] and death_note["year"] == 2006
            assert [r["title"] for r in recognised] == ["Death Note", "Naruto"]
            done = _poll(api, answer.json()["prediction_id"])
        finally:
            worker.stop()
        assert done["status"] == "done" and done["model_version"] == version, (done, worker.output())
        assert len(done["shows"]) == 20 and done["message"] is None
        assert {s["source"] for s in done["shows"]} == {"anime_caserec"}
        assert any("Death Note" in s["because"] for s in done["shows"])


def test_a_real_source_setting_switches_a_home_that_holds_the_demo(demo, shows_dir, monkeypatch):
    monkeypatch.setattr(tasks, "candidates", lambda: {"popularity": Popularity().params})  # quick to train
    monkeypatch.setenv("SHIPML_SHOWS_SOURCE", str(shows_dir))
    said: list[str] = []
    first_run.prepare(get("shows"), said.append)
    assert any("stored real data v2, 288,869 rows" in line for line in said), said
    assert any("trained shows_recommender v2" in line for line in said), said
    assert registry.champion_version(tasks.MODEL) == 2 and not datasets.require_latest(ratings.DATASET).synthetic
    said.clear()
    first_run.prepare(get("shows"), said.append)  # the next start has nothing to do
    assert said == [] and registry.champion_version(tasks.MODEL) == 2
