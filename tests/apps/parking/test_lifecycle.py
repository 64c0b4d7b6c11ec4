"""The one lifecycle for parking: every run logged, one registered Family, and a moved alias served without a
restart; ``shipml eval parking --occupancy`` on the real Birmingham file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date

import polars as pl
import pytest
from fastapi.testclient import TestClient

from shipml.apps import get
from shipml.apps.parking import ingest, tasks
from shipml.apps.parking.sources import BIRMINGHAM_NAMES, BIRMINGHAM_OCCUPANCY
from shipml.core import registry
from shipml.core.api import create_app
from shipml.core.training import select_and_promote


def test_a_moved_alias_is_served_within_10_seconds(platform, tmp_path):
    ingest.refresh(str(ingest.simulate(tmp_path / "a", weeks=3, last=date(2024, 3, 1), scale=0.01)))
    first = select_and_promote(tasks.model_spec(["seasonal_naive"], origins=1))
    ingest.refresh(str(ingest.simulate(tmp_path / "b", weeks=3, last=date(2024, 3, 8), scale=0.01)))
    second = select_and_promote(tasks.model_spec(["seasonal_naive"], origins=1))
    assert (first.version, second.version) == (1, 2) and second.promoted
    runs = registry.client().search_runs([registry.client().get_experiment_by_name(tasks.MODEL).experiment_id])
    assert len(runs) >= 4  # an evaluation run per configuration and a model run, per training
    with TestClient(create_app([get("parking")]), raise_server_exceptions=False) as api:
        params = {"at": "2024-03-11T11:00", "neighbourhood": "101"}
        assert api.get("/api/parking/availability", params=params).json()["model"]["version"] == 2
        registry.set_champion(tasks.MODEL, 1)
        deadline, served = time.monotonic() + 10, None
        while time.monotonic() < deadline and served != 1:
            served = api.get("/api/parking/availability", params=params).json()["model"]["version"]
            time.sleep(0.2)
        assert served == 1


def test_eval_on_the_real_birmingham_file_prints_one_json_object_per_model(platform, shared_data, tmp_path):
    raw = pl.read_csv(shared_data / BIRMINGHAM_OCCUPANCY, has_header=False, new_columns=list(BIRMINGHAM_NAMES),
                      infer_schema=False)
    parks = sorted(raw["SystemCodeNumber"].unique().to_list())[:6]
    trimmed = tmp_path / "birmingham.csv"
    raw.filter(pl.col("SystemCodeNumber").is_in(parks)).write_csv(trimmed, include_header=False)
    run = subprocess.run(
        [sys.executable, "-m", "shipml.cli", "eval", "parking", "--occupancy", str(trimmed),
         "--id-col", "SystemCodeNumber", "--time-col", "LastUpdated", "--capacity-col", "Capacity",
         "--occupied-col", "Occupancy", "--names", ",".join(BIRMINGHAM_NAMES), "--freq", "30min",
         "--horizon", "1d", "--origins", "2", "--models", "seasonal_naive,global_lightgbm", "--json"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
    assert run.returncode == 0, run.stdout + run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [r["model"] for r in rows] == ["seasonal_naive", "global_lightgbm"]
    for r in rows:
        assert {"model", "mase", "mae", "fit_seconds", "series", "origins"} <= set(r)  # timing-ok
        assert r["series"] == 6 and r["origins"] == 2 and 0 < r["mase"] < 5


@pytest.mark.parametrize("missing", [["--occupied-col", "Occupancy", "--free-col", "Occupancy"], []])
def test_eval_needs_exactly_one_count_column(platform, shared_data, missing):
    run = subprocess.run(
        [sys.executable, "-m", "shipml.cli", "eval", "parking", "--occupancy",
         str(shared_data / BIRMINGHAM_OCCUPANCY), "--id-col", "SystemCodeNumber", "--time-col", "LastUpdated",
         "--capacity-col", "Capacity", "--names", ",".join(BIRMINGHAM_NAMES), *missing, "--json"],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "exactly one of" in run.stdout + run.stderr
