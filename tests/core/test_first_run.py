"""The one first-run policy (core/first_run.py) on the demo app, through the real datasets, registry and queue:
configured source, else labelled synthetic data, else the last good data; a champion where there is none."""

from dataclasses import replace

import pytest

import sample_app
from shipml.core import datasets, jobs, registry
from shipml.core import platform as platform_jobs
from shipml.core.app import FirstRun
from shipml.core.first_run import prepare

MODEL = "demo_constant"


def declared(source: str, **policy):
    return replace(sample_app.APP, dataset=sample_app.DATASET, model=MODEL, ingest="sample_app:read_values",
                   first_run=FirstRun(source=lambda: source, **policy))


def start(app) -> tuple[list[str], object]:
    said: list[str] = []
    prepared = prepare(app, said.append)
    return said, prepared


def test_an_offline_first_start_serves_labelled_synthetic_data_and_trains(platform):
    said, prepared = start(declared("offline-export"))
    snap = datasets.require_latest(sample_app.DATASET)
    assert snap.synthetic and snap.rows == 4
    assert any("offline-export cannot be reached" in line for line in said), said
    assert any("SYNTHETIC" in line and "OFFLINE" in line for line in said), said
    assert prepared.trained == 1 and registry.champion_version(MODEL) == 1
    refreshes = datasets.refreshes(sample_app.DATASET)
    assert [r["status"] for r in refreshes] == ["stored", "offline"]  # newest first: the attempt is on record


def test_a_real_source_replaces_the_synthetic_demo_and_retrains(platform):
    start(declared("offline"))
    said, prepared = start(declared("1,2,3,4,5,6,7,8"))
    snap = datasets.require_latest(sample_app.DATASET)
    assert not snap.synthetic and snap.version == 2 and prepared.data_changed
    assert registry.champion_version(MODEL) == 2, "the data was replaced: the champion follows it"
    assert any("stored real data v2, 8 rows" in line for line in said), said


def test_a_later_start_with_real_data_does_nothing(platform):
    start(declared("1,2,3,4,5,6,7,8"))
    said, prepared = start(declared("1,2,3,4,5,6,7,8"))
    assert said == [] and not prepared.data_changed and prepared.trained is None


@pytest.mark.parametrize("source", ["offline", "bad-file"])
def test_a_failed_refresh_at_start_keeps_the_last_good_data_and_says_so(platform, source):
    start(declared("1,2,3,4,5,6,7,8"))
    said, prepared = start(declared(source, refresh_at_start=True))
    assert datasets.require_latest(sample_app.DATASET).version == 1 and not prepared.data_changed
    assert any("serving the last good data, real v1" in line for line in said), said
    assert registry.champion_version(MODEL) == 1


def test_a_slow_source_is_queued_only_when_its_site_answers(platform):
    said, _ = start(declared("scrape", background={"scrape": "http://127.0.0.1:9/"}))  # nothing listens on 9
    assert datasets.require_latest(sample_app.DATASET).synthetic
    assert any("unreachable" in line and "staying on SYNTHETIC data" in line for line in said), said
    assert jobs.list_jobs(app="demo") == []


def test_quick_candidates_train_the_first_champion(platform):
    platform_jobs.register_jobs(sample_app.APP)  # as in the worker, which runs the first run as a job
    said, prepared = start(declared("1,1,1,10,1,1,1,1", quick="sample_app:quick_spec"))
    version, model = registry.champion(MODEL).get()
    assert version == 1 and model.params == {"kind": "mean"}, "only the quick candidate was compared"
    assert any("trained demo_constant v1 (mean" in line for line in said), said
    assert prepared.full_training_job is not None, "the full comparison follows in the background"
    assert jobs.get(prepared.full_training_job)["name"] == "train"
