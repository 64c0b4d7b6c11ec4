"""Registry on a real MLflow (SQLite backend in the test's home)."""

import time

import polars as pl
import pytest

from shipml.core import datasets, registry


class Constant:
    def __init__(self, value):
        self.value = value

    def predict(self, _input):
        return self.value


@pytest.fixture
def snapshot(platform):
    return datasets.save("demo", pl.DataFrame({"y": [1.0, 2.0]}), source="test").snapshot


def _train(value, mae, snapshot):
    version = registry.log_model("demo_model", Constant(value), params={"value": value},
                                 metrics={"mae": mae}, dataset=snapshot, holdout="last 2 rows")
    current = registry.champion_version("demo_model")
    champion_score = None
    if current is not None:
        champion_score = next(m["metrics"]["mae"] for m in registry.list_models() if m["version"] == current)
    return registry.promote_if_better("demo_model", version, metric="mae", candidate_score=mae,
                                      champion_score=champion_score, higher_is_better=False)


def test_first_model_becomes_champion_and_a_worse_one_does_not(snapshot):
    first = _train(1, mae=2.0, snapshot=snapshot)
    assert first.promoted and registry.champion_version("demo_model") == 1
    worse = _train(2, mae=3.0, snapshot=snapshot)
    assert not worse.promoted and "does not beat champion v1" in worse.reason
    assert registry.champion_version("demo_model") == 1
    better = _train(3, mae=1.0, snapshot=snapshot)
    assert better.promoted and registry.champion_version("demo_model") == 3


def test_versions_carry_params_metrics_dataset_and_the_reason(snapshot):
    _train(1, mae=2.0, snapshot=snapshot)
    _train(2, mae=3.0, snapshot=snapshot)
    by_version = {m["version"]: m for m in registry.list_models()}
    assert by_version[1]["champion"] and not by_version[2]["champion"]
    assert by_version[2]["params"] == {"value": "2"} and by_version[2]["metrics"] == {"mae": 3.0}
    assert by_version[2]["tags"]["dataset_version"] == str(snapshot.version)
    assert by_version[2]["tags"]["holdout"] == "last 2 rows"
    assert "does not beat" in by_version[2]["tags"]["promotion_reason"]


def test_served_champion_follows_an_alias_move_without_restart(snapshot):
    _train(1, mae=2.0, snapshot=snapshot)
    _train(2, mae=3.0, snapshot=snapshot)
    served = registry.champion("demo_model")
    version, model = served.get()
    assert (version, model.predict(None)) == (1, 1)
    registry.set_champion("demo_model", 2)
    deadline = time.monotonic() + 10
    while served.get()[0] != 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    version, model = served.get()
    assert (version, model.predict(None)) == (2, 2)
