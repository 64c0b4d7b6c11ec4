"""A scheduled refresh whose source cannot be reached is a state, not a failure: recorded as ``offline``, the job
ends done with the last good data named, the log says so once when it starts and once when it ends."""

import logging
from dataclasses import replace

import pytest

import sample_app
from shipml.core import datasets
from shipml.core import platform as core
from shipml.core.errors import SourceOffline

APP = replace(sample_app.APP, dataset=sample_app.DATASET, ingest="sample_app:read_values")


def unreachable() -> SourceOffline:
    with pytest.raises(SourceOffline) as caught:
        core.ingest(APP, "offline-export")
    return caught.value


def test_offline_keeps_the_last_good_data_and_is_logged_once_per_change(platform, caplog):
    core.register_jobs(APP)  # a stored refresh queues a training
    core.ingest(APP, "1,2,3,4")
    caplog.set_level(logging.WARNING, logger="shipml.core.platform")
    answers = [core.offline(APP, unreachable()) for _ in range(3)]
    assert [a["status"] for a in answers] == ["offline"] * 3 and {a["version"] for a in answers} == {1}
    assert [r["status"] for r in datasets.refreshes(sample_app.DATASET)][:3] == ["offline"] * 3
    went = [r.getMessage() for r in caplog.records]
    assert len(went) == 1 and "offline (offline-export cannot be reached)" in went[0], went
    core.ingest(APP, "1,2,3,4,5")
    back = [r.getMessage() for r in caplog.records][1:]
    assert len(back) == 1 and "back online; stored data v2" in back[0], back


def test_offline_with_nothing_to_serve_stays_an_error(platform):
    with pytest.raises(SourceOffline):
        core.offline(APP, unreachable())


def test_the_status_says_when_the_next_refresh_runs(platform):
    status = core.status(replace(APP, status=None))
    assert status["next_refresh_at"] is not None  # the demo's ingest runs every 15 minutes
