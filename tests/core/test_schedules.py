"""Periodic jobs: declared by apps, registered on the worker's scheduler, due on their minute."""

from datetime import datetime

import sample_jobs  # noqa: F401
from shipml.core import jobs
from shipml.core.worker import _every, schedule_periodic


def test_every_n_minutes_is_due_on_multiples_of_n_from_midnight():
    due = _every(15)
    assert due(datetime(2026, 1, 1, 10, 15)) and due(datetime(2026, 1, 1, 0, 0))
    assert not due(datetime(2026, 1, 1, 10, 16))
    assert [m for m in range(60) if _every(20)(datetime(2026, 1, 1, 3, m))] == [0, 20, 40]


def test_declared_periodic_job_is_scheduled_and_submits_a_job_record(platform, monkeypatch):
    monkeypatch.setitem(jobs._PERIODIC, "test.sleep",
                        jobs.PeriodicSpec("test.sleep", lambda s: s.covid_refresh_minutes, {"seconds": 0.1}))
    scheduled = schedule_periodic(platform)
    task = scheduled["test.sleep every 15 min"]
    periodic = task.s()  # the task as the scheduler sees it
    assert periodic.validate_datetime(datetime(2026, 1, 1, 9, 45))
    assert not periodic.validate_datetime(datetime(2026, 1, 1, 9, 46))
    task.call_local()  # what the consumer runs when the task is due
    queued = jobs.list_jobs(app="test", status="queued")
    assert len(queued) == 1 and queued[0]["params"] == {"seconds": 0.1}


def test_covid_declares_its_refresh_every_configured_minutes(platform, monkeypatch):
    import shipml.apps.covid.tasks  # noqa: F401

    monkeypatch.setenv("SHIPML_COVID_REFRESH_MINUTES", "30")
    from shipml.settings import get_settings

    get_settings.cache_clear()
    assert jobs._PERIODIC["covid.refresh"].every_minutes(get_settings()) == 30
