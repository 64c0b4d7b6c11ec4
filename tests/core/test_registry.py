"""Registry on a real MLflow (SQLite backend in the test's home)."""

import time

import polars as pl
import pytest

import sample_app
from shipml.core import datasets, registry
from shipml.core.training import decide


class Constant:
    def __init__(self, value):
        self.value = value
        self.params = {"value": value}  # a registry Model

    def predict(self, _input):
        return self.value


@pytest.fixture
def snapshot(platform):
    return datasets.save("demo", pl.DataFrame({"y": [1.0, 2.0]}), source="test").snapshot


def _train(value, mae, snapshot):
    version = registry.log_model("demo_model", Constant(value), params={"value": value},
                                 metrics={"mae": mae}, dataset=snapshot, holdout="last 2 rows")
    champion = registry.recorded_champion("demo_model", "mae")
    promoted, reason = decide(sample_app.spec(), mae, champion, snapshot.version)
    registry.record_decision("demo_model", version, promoted=promoted, reason=reason)
    return promoted, reason


def test_first_model_becomes_champion_and_a_worse_one_does_not(snapshot):
    promoted, _ = _train(1, mae=2.0, snapshot=snapshot)
    assert promoted and registry.champion_version("demo_model") == 1
    promoted, reason = _train(2, mae=3.0, snapshot=snapshot)
    assert not promoted and "champion v1" in reason and "worse by more than" in reason
    assert registry.champion_version("demo_model") == 1
    promoted, _ = _train(3, mae=1.0, snapshot=snapshot)
    assert promoted and registry.champion_version("demo_model") == 3


def test_versions_carry_params_metrics_dataset_and_the_reason(snapshot):
    _train(1, mae=2.0, snapshot=snapshot)
    _train(2, mae=3.0, snapshot=snapshot)
    by_version = {m["version"]: m for m in registry.list_models()}
    assert by_version[1]["champion"] and not by_version[2]["champion"]
    assert by_version[2]["params"] == {"value": "2"} and by_version[2]["metrics"] == {"mae": 3.0}
    assert by_version[2]["tags"]["dataset_version"] == str(snapshot.version)
    assert by_version[2]["tags"]["holdout"] == "last 2 rows"
    assert "worse by more than" in by_version[2]["tags"]["promotion_reason"]
    assert registry.version_params("demo_model", 2) == {"value": 2}


def test_served_champion_follows_an_alias_move_without_restart(snapshot):
    _train(1, mae=2.0, snapshot=snapshot)
    _train(2, mae=3.0, snapshot=snapshot)
    served = registry.champion("demo_model")
    version, model = served.get()
    assert (version, model.predict(None)) == (1, 1)
    registry.set_champion("demo_model", 2)
    deadline = time.monotonic() + 60  # a bound on waiting (a model load on a busy machine), not a timing
    while served.get()[0] != 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    version, model = served.get()
    assert (version, model.predict(None)) == (2, 2)


def test_a_promotion_made_by_this_process_is_served_by_it_at_once(snapshot, monkeypatch):
    from shipml.settings import get_settings

    monkeypatch.setenv("SHIPML_CHAMPION_POLL_SECONDS", "3600")  # no poll would see the move in this test
    get_settings.cache_clear()
    _train(1, mae=2.0, snapshot=snapshot)
    served = registry.champion("demo_model")
    assert served.get()[0] == 1  # loaded, as a worker's warm-up loads it
    promoted, _ = _train(2, mae=1.0, snapshot=snapshot)  # a training in the same process promotes v2
    version, model = served.get()
    assert promoted and (version, model.predict(None)) == (2, 2)
    registry.set_champion("demo_model", 1)  # a move by hand in this process, too
    assert served.get()[0] == 1
