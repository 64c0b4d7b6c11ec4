"""Periodic jobs: declared by apps, on huey's crontab, enqueued once per period however many schedulers run."""

from datetime import UTC, datetime

import pytest

import sample_app
from platform_fixtures import SERVICES
from shipml.core import jobs
from shipml.core import platform as wiring
from shipml.core.errors import InvalidInput


def test_periods_map_onto_the_clock():
    assert wiring.cron(15)(datetime(2026, 1, 1, 10, 15)) and not wiring.cron(15)(datetime(2026, 1, 1, 10, 16))
    assert [m for m in range(60) if wiring.cron(20)(datetime(2026, 1, 1, 3, m))] == [0, 20, 40]
    daily = wiring.cron(1440)
    assert daily(datetime(2026, 1, 1, 0, 0)) and not daily(datetime(2026, 1, 1, 12, 0))
    assert wiring.cron(120)(datetime(2026, 1, 1, 14, 0)) and not wiring.cron(120)(datetime(2026, 1, 1, 15, 0))
    with pytest.raises(InvalidInput, match="does not fit the clock"):
        wiring.cron(45)


def test_period_start_floors_to_the_period():
    assert wiring.period_start(datetime(2026, 1, 1, 10, 29, 59, tzinfo=UTC), 15) == datetime(
        2026, 1, 1, 10, 15, tzinfo=UTC)
    assert wiring.period_start(datetime(2026, 1, 1, 23, 59, tzinfo=UTC), 1440) == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_period_is_enqueued_once_however_many_schedulers_fire(platform):
    """Two workers (two schedulers, on Redis in the services pass) fire the same periodic task: one job."""
    wiring.register_jobs(sample_app.APP)
    scheduled = wiring.schedule([sample_app.APP])
    task = scheduled["demo.ingest every 15 min"]
    assert task.s().validate_datetime(datetime(2026, 1, 1, 9, 45))
    assert not task.s().validate_datetime(datetime(2026, 1, 1, 9, 46))
    task.call_local()  # the first worker's scheduler
    task.call_local()  # the second worker's, in the same period
    queued = jobs.list_jobs(app="demo", status="queued")
    assert len(queued) == 1 and queued[0]["name"] == "ingest" and queued[0]["params"] == {"source": "scheduled"}


def test_apps_declare_their_schedules_from_their_settings(monkeypatch):
    from shipml.apps import get

    monkeypatch.setenv("SHIPML_COVID_REFRESH_MINUTES", "30")
    [refresh] = get("covid").schedules
    assert (refresh.job, refresh.minutes()) == ("ingest", 30)


@pytest.mark.skipif(not SERVICES, reason="two workers sharing one queue: the Redis pass")
def test_two_real_workers_on_redis_enqueue_a_period_once(platform, tmp_path, monkeypatch):
    """Two `shipml worker` processes, both running the scheduler, on one Redis queue: one job per minute."""
    import os
    import subprocess
    import sys

    from platform_fixtures import TESTS, wait_for

    env = {**os.environ, "PYTHONPATH": str(TESTS), "SHIPML_WORKER_PERIODIC": "true", "DEMO_EVERY_MINUTES": "1"}
    workers = [subprocess.Popen([sys.executable, "-m", "shipml.cli", "worker", "--import", "sample_app"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
               for _ in range(2)]
    try:
        first = wait_for(lambda: jobs.list_jobs(app="demo", limit=10), timeout=75, what="the first periodic job")
        period = first[0]["created_at"][:16]  # the minute both schedulers fired in
        wait_for(lambda: all(j["status"] in ("done", "failed") for j in jobs.list_jobs(app="demo")
                             if j["name"] == "ingest"), timeout=30, what="the periodic job to run")
        same_minute = [j for j in jobs.list_jobs(app="demo", limit=50) if j["name"] == "ingest"
                       and j["created_at"][:16] == period]
        assert len(same_minute) == 1, same_minute
    finally:
        for proc in workers:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=20)
