"""One model interface: every app's spec makes the class its routes serve, a registry Model whose params remake it;
the registry refuses a model without params; a route with no champion is a 404 that says how to train one (through
the API, on the real registry)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient

import sample_app
from shipml.apps import get, installed
from shipml.apps.covid.model import CaseForecast
from shipml.apps.cycling.model import SimilarityModel
from shipml.apps.shows.model import ShowsModel
from shipml.core import datasets, registry
from shipml.core.api import create_app
from shipml.core.registry import Model
from shipml.core.training import Family

SERVED = {"covid": CaseForecast, "cycling": SimilarityModel, "shows": ShowsModel, "parking": Family}  # require(kind)
TRAINING = [app for app in installed() if app.models]


def test_every_app_that_trains_says_which_class_it_serves():
    assert {app.name for app in TRAINING} == set(SERVED)


@pytest.mark.parametrize("app", TRAINING, ids=lambda app: app.name)
def test_every_candidate_is_made_as_the_served_model_class_and_its_params_remake_it(app):
    for spec in app.model_specs():
        for name, params in spec.candidates().items():
            made = spec.make(dict(params))
            assert isinstance(made, Model) and isinstance(made, SERVED[app.name]), f"{name}: {type(made).__name__}"
            assert spec.make(made.params).params == made.params, name


def test_the_registry_refuses_a_model_without_params(platform):
    snap = datasets.save("demo", pl.DataFrame({"y": [1.0]}), source="test").snapshot
    with pytest.raises(TypeError, match="no 'params'"):
        registry.log_model("demo_bare", object(), params={}, metrics={}, dataset=snap,  # type: ignore[arg-type]
                           holdout="none")
    assert registry.champion_version("demo_bare") is None


def test_require_gives_the_champion_typed_and_refuses_another_class(platform):
    snap = datasets.save("demo", pl.DataFrame({"y": [1.0, 3.0]}), source="test").snapshot
    model = sample_app.Constant("mean").fit(np.array([1.0, 3.0]))
    version = registry.log_model("demo_typed", model, params=model.params, metrics={"mae": 0.0}, dataset=snap,
                                 holdout="none")
    registry.record_decision("demo_typed", version, promoted=True, reason="first")
    served_version, served = registry.champion("demo_typed").require(sample_app.Constant, app="demo")
    assert served_version == version and served.predict() == 2.0
    with pytest.raises(TypeError, match="is a Constant, not a Family"):
        registry.champion("demo_typed").require(Family, app="demo")


def test_require_with_no_champion_says_how_to_train(platform):
    with pytest.raises(Exception, match=r"^no model 'demo_none' trained yet; run `shipml train demo`$"):
        registry.champion("demo_none").require(Family, app="demo")


@pytest.mark.parametrize(("app", "path", "params", "missing"), [
    ("covid", "/api/covid/forecast", {}, "no champion forecast model yet"),
    ("cycling", "/api/cycling/riders", {}, "no cycling model yet"),
    ("shows", "/api/shows/{show}/similar", {}, "no recommender trained yet"),
    ("parking", "/api/parking/availability", {"at": "2024-03-04T10:00", "neighbourhood": "101"},
     "no parking model yet"),
])
def test_a_route_with_no_champion_is_a_404_saying_how_to_train(platform, app, path, params, missing):
    if app == "shows":  # the show must exist: an unknown show is its own 404
        from shipml.apps.shows import catalog

        catalog.import_shows(pl.DataFrame({"external_id": ["s1"], "title": ["Breaking Bad"]}), "netflix")
        path = path.format(show=catalog.show_ids("netflix")["s1"])
    with TestClient(create_app([get(app)]), raise_server_exceptions=False) as client:
        response = client.get(path, params=params)
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error == {"code": "not_found", "message": f"{missing}; run `shipml train {app}`"}
