"""The one model lifecycle on the demo app (known answers), through the real registry and datasets."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

import sample_app
from shipml.core import jobs, registry
from shipml.core import platform as wiring
from shipml.core.api import create_app
from shipml.core.training import TrainingData, decide, select_and_promote


def test_every_configuration_is_scored_on_one_holdout_and_the_best_is_served(platform):
    sample_app.store([1.0, 1.0, 1.0, 10.0, 1.0, 1.0, 1.0, 1.0])  # the median (1) predicts the holdout exactly
    outcome = select_and_promote(sample_app.spec())
    assert outcome.promoted and outcome.version == 1 and outcome.candidate == "median"
    assert outcome.table["median"]["mae"] == 0.0 and outcome.table["mean"]["mae"] == pytest.approx(1.5)
    version, model = registry.champion("demo_constant").get()
    assert version == 1 and model.predict() == 1.0
    runs = registry.client().search_runs([registry._experiment_id("demo_constant")])
    assert len(runs) == 2 + 1  # one evaluation run per configuration, plus the registered model's run


def test_the_same_configuration_on_new_data_replaces_the_champion(platform):
    """The bug of the old promote_if_better: a tie kept the model trained on old data for ever."""
    sample_app.store([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    first = select_and_promote(sample_app.spec(("mean",)))
    sample_app.store([2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])  # shifted by one: the very same holdout error
    second = select_and_promote(sample_app.spec(("mean",)))
    assert first.score == second.score
    assert second.promoted and "a tie goes to the newer data" in second.reason
    version, model = registry.champion("demo_constant").get()
    assert version == 2 and model.predict() == 5.5  # the mean of the new data
    assert registry.version_params("demo_constant", 2) == {"kind": "mean"}


def test_a_model_fit_on_corrupted_data_is_registered_but_not_promoted(platform):
    sample_app.store([1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0])
    select_and_promote(sample_app.spec())
    snap = sample_app.load().snapshot
    corrupted = np.array([1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 900.0, -700.0])  # passed validation, still garbage
    bad = select_and_promote(sample_app.spec(), training=TrainingData(snap, corrupted))
    assert not bad.promoted and "worse by more than the 10% tolerance" in bad.reason
    assert registry.champion_version("demo_constant") == 1
    tags = {m["version"]: m["tags"] for m in registry.list_models()}
    assert tags[2]["promotion"] == "kept champion" and "champion kept" in tags[2]["promotion_reason"]


def test_the_champion_configuration_joins_the_candidates_when_none_has_its_params(platform):
    sample_app.store([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    select_and_promote(sample_app.spec(("median",)))
    outcome = select_and_promote(sample_app.spec(("mean",)))
    assert set(outcome.table) == {"mean", "champion v1"}


def test_a_quick_comparison_leaves_the_champion_configuration_to_the_full_one(platform):
    """A first start's quick comparison (``with_champion=False``) fits its cheap candidates only; the champion's
    score still decides the promotion, and the full comparison after it refits the champion's configuration."""
    from dataclasses import replace

    sample_app.store([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    select_and_promote(sample_app.spec(("median",)))
    quick = select_and_promote(replace(sample_app.spec(("mean",)), with_champion=False))
    assert set(quick.table) == {"mean"} and "champion v1" in quick.reason
    assert quick.promoted and registry.champion_version("demo_constant") == 2
    full = select_and_promote(sample_app.spec(("median",)))
    assert set(full.table) == {"median", "champion v2"}


@pytest.mark.parametrize(("score", "promoted", "words"), [
    (1.0, True, "a tie goes to the newer data"),
    (1.05, True, "within the 10% tolerance"),
    (1.2, False, "worse by more than"),
    (0.5, True, "better"),
])
def test_decide_with_lower_is_better(score, promoted, words):
    champion = registry.Recorded(version=3, score=1.0, data_version="4")
    ok, reason = decide(sample_app.spec(), score, champion, data_version=5)
    assert ok is promoted and words in reason and "champion v3" in reason


def test_a_stored_ingest_queues_one_debounced_training(platform):
    wiring.register_jobs(sample_app.APP)
    first = wiring.ingest(sample_app.APP, "a")
    second = wiring.ingest(sample_app.APP, "b")
    assert first["train_job"] == second["train_job"]  # deduplicated while it waits
    queued = jobs.list_jobs(app="demo", status="queued")
    assert [j["name"] for j in queued] == ["train"]


def test_common_routes_are_built_from_the_declaration(platform):
    with TestClient(create_app([sample_app.APP]), raise_server_exceptions=False) as client:
        paths = client.get("/openapi.json").json()["paths"]
        assert {"/api/demo/status", "/api/demo/ingest", "/api/demo/train", "/api/demo/eval"} <= set(paths)
        assert client.post("/api/demo/train").status_code == 401
        body = client.get("/api/health").json()
        assert "demo" in body["apps"] and "demo.beater" in body["services"]
        assert body["services"]["demo.beater"] == {"ok": False, "error": "no heartbeat yet"}


def test_a_family_is_one_version_with_per_member_metrics_and_one_champion_handle(platform):
    """One forecaster per series (parking): registered once, each member's figures logged, one handle serves all."""
    from shipml.core.training import Family

    sample_app.store([1.0, 2.0])
    snap = sample_app.load().snapshot
    family = Family(params={"kind": "mean"},
                    members={k: sample_app.Constant("mean").fit(np.array(v)) for k, v in (("a", [1.0]), ("b", [3.0]))},
                    member_metrics={"a": {"mae": 0.5}, "b": {"mae": 1.5}})
    version = registry.log_model("demo_family", family, params=family.params, metrics={"mae": 1.0}, dataset=snap,
                                 holdout="test", member_metrics=family.member_metrics)
    registry.record_decision("demo_family", version, promoted=True, reason="first")
    run_metrics = registry.client().get_run(registry.client().get_model_version("demo_family", "1").run_id).data.metrics
    assert run_metrics["mae/a"] == 0.5 and run_metrics["mae/b"] == 1.5 and run_metrics["mae"] == 1.0
    assert registry.list_models()[0]["metrics"] == {"mae": 1.0}  # the aggregate; members stay in the run
    served_version, served = registry.champion("demo_family").get()
    assert served_version == 1 and served.member("b").predict() == 3.0 and len(served) == 2
    with pytest.raises(Exception, match="no model for 'c'"):
        served.member("c")


def test_a_champion_of_synthetic_data_never_blocks_a_model_of_real_data():
    champion = registry.Recorded(version=1, score=0.1, data_version="1", synthetic=True)
    ok, reason = decide(sample_app.spec(), 5.0, champion, data_version=2, synthetic=False)
    assert ok and "SYNTHETIC" in reason
    ok, _ = decide(sample_app.spec(), 5.0, champion, data_version=2, synthetic=True)
    assert not ok, "synthetic against synthetic is compared as usual"
