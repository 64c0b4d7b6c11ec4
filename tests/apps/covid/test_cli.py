"""The CLI as a user runs it: ingest, train, eval, models, jobs."""

import json
import os
import subprocess
import sys

from shipml.apps import get
from shipml.core import jobs
from shipml.core import platform as platform_jobs


def shipml(*args, check=True):
    run = subprocess.run([sys.executable, "-m", "shipml.cli", *args], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "COLUMNS": "200"})
    if check:
        assert run.returncode == 0, run.stdout + run.stderr
    return run


def test_ingest_train_eval_models_jobs(platform, covid_dir):
    assert "stored" in shipml("ingest", "covid", "--source", str(covid_dir / "datasets_data.csv")).stdout
    assert "unchanged" in shipml("ingest", "covid", "--source", str(covid_dir / "datasets_data.csv")).stdout
    trained = shipml("train", "covid").stdout
    assert "covid_cases_forecast v1" in trained and "promoted" in trained
    rows = [json.loads(line) for line in shipml("eval", "covid", "--json").stdout.splitlines()]
    assert {r["model"] for r in rows} == {"seasonal_naive", "loglinear_weekly_w21", "loglinear_weekly_w42"}
    assert all(r["backtest_mae"] > 0 for r in rows)
    assert "covid_cases_forecast" in shipml("models").stdout
    platform_jobs.register_jobs(get("covid"))
    job_id = jobs.submit("covid", "ingest", source="synthetic")
    listed = shipml("jobs", "--app", "covid").stdout
    assert job_id[:8] in listed and "covid.ingest" in listed and "queued" in listed


def test_unknown_app_is_a_usage_error(platform):
    run = shipml("ingest", "nosuchapp", check=False)
    assert run.returncode == 2 and "nosuchapp" in run.stderr
    listed = shipml("ingest", "--help").stdout
    assert all(app in listed for app in ("covid", "cycling", "shows"))  # the installed apps, each a command
