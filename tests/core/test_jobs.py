"""The queue with a real worker process: results, failures, progress, and a worker killed mid-job."""

import pytest

import sample_jobs  # noqa: F401  (registers the test jobs in this process too, so submit knows them)
from platform_fixtures import wait_for
from shipml.core import jobs, reaper
from shipml.core.errors import InvalidInput, NotFound


def _status(job_id):
    return jobs.get(job_id)["status"]


def test_job_runs_to_done_with_result_and_progress(worker):
    worker.start()
    job_id = jobs.submit("test", "sleep", seconds=0.5, steps=5)
    record = jobs.wait(job_id, timeout=60)
    assert record["status"] == "done", worker.output()
    assert record["result"] == {"slept": 0.5}
    assert record["progress"] == 1.0 and record["attempts"] == 1
    assert record["started_at"] <= record["finished_at"]


def test_failing_job_ends_failed_with_its_reason(worker):
    worker.start()
    job_id = jobs.submit("test", "boom")
    record = jobs.wait(job_id, timeout=60)
    assert record["status"] == "failed"
    assert record["error"] == "ValueError: the input had no rows"


def test_jobs_submitted_while_no_worker_runs_wait_and_then_complete(worker):
    job_id = jobs.submit("test", "sleep", seconds=0.1, steps=1)
    assert _status(job_id) == "queued"
    worker.start()
    assert jobs.wait(job_id, timeout=60)["status"] == "done"


def test_worker_killed_mid_job_is_requeued_and_completes(worker):
    worker.start()
    job_id = jobs.submit("test", "sleep", seconds=4, steps=40)
    wait_for(lambda: jobs.get(job_id)["progress"] > 0.05, timeout=60, what="job to make progress")
    worker.kill()
    assert _status(job_id) == "running"  # the record cannot know yet that its worker died
    worker.start()
    record = jobs.wait(job_id, timeout=60)
    assert record["status"] == "done", worker.output()
    assert record["attempts"] == 2


def test_job_whose_worker_keeps_dying_ends_failed_with_a_reason(worker, monkeypatch):
    monkeypatch.setenv("SHIPML_JOB_MAX_ATTEMPTS", "1")
    from shipml.settings import get_settings

    get_settings.cache_clear()
    worker.start()
    job_id = jobs.submit("test", "sleep", seconds=30, steps=300)
    wait_for(lambda: _status(job_id) == "running", timeout=60, what="job to start")
    worker.kill()
    worker.start()
    record = wait_for(lambda: (r := jobs.get(job_id))["status"] == "failed" and r, timeout=60,
                      what="the job to fail")
    assert "stopped" in record["error"] and "gave up after 1 attempts" in record["error"]


def test_unknown_job_and_unknown_id_are_clear_errors(platform):
    with pytest.raises(InvalidInput, match="unknown job 'test.nope'"):
        jobs.submit("test", "nope")
    with pytest.raises(NotFound):
        jobs.get("0" * 32)
    with pytest.raises(InvalidInput, match="status must be one of"):
        jobs.list_jobs(status="weird")


def test_listing_filters_by_app_and_status(platform):
    a = jobs.submit("test", "sleep")
    jobs.submit("test", "boom")
    assert {j["id"] for j in jobs.list_jobs(app="test", status="queued")} >= {a}
    assert jobs.list_jobs(app="other") == []
    assert jobs.counts_by_status()["queued"] == 2


def test_a_job_whose_message_died_with_its_worker_is_requeued_and_done(worker):
    """kill -9 between dequeue and start: the message is gone, the record says queued. The reaper requeues it."""
    from datetime import timedelta

    from sqlalchemy import update

    from shipml.core import db
    from shipml.core.tables import Job, utcnow

    job_id = jobs.submit("test", "sleep", seconds=0.1)
    assert jobs.get_huey().dequeue() is not None  # what a worker does just before it dies
    assert jobs.get_huey().pending_count() == 0 and _status(job_id) == "queued"
    with db.session() as s:  # older than job_stale_seconds, as it would be by the time the reaper looks
        s.execute(update(Job).where(Job.id == job_id).values(created_at=utcnow() - timedelta(minutes=5)))
    assert reaper.requeue_lost() == [job_id]
    assert reaper.requeue_lost() == []  # its message is back in the queue now
    worker.start()
    record = jobs.wait(job_id, timeout=60)
    assert record["status"] == "done", worker.output()


def test_a_queue_outage_refuses_the_job_and_saves_nothing(platform, monkeypatch):
    """Nothing listens on port 1: the queue is down. The caller gets 503, no record is left queued."""
    from shipml.core.errors import QueueUnavailable
    from shipml.settings import get_settings

    monkeypatch.setenv("SHIPML_REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    with pytest.raises(QueueUnavailable, match="nothing was queued"):
        jobs.submit("test", "sleep", seconds=0.1)
    assert jobs.counts_by_status()["queued"] == 0


def test_identical_admin_jobs_submitted_at_once_are_one_job(platform):
    """Deduplication is atomic: eight identical submissions racing each other (as eight API requests would, in one
    process or several) give one job, whatever the database."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    start = Barrier(8)

    def submit(_: int) -> str:
        start.wait()
        return jobs.submit("test", "sleep", dedup=True, seconds=0.1)

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(submit, range(8)))
    assert len(ids) == 1 and jobs.counts_by_status()["queued"] == 1
    assert jobs.submit("test", "sleep", dedup=True, seconds=0.2) not in ids  # other params: another job


def test_a_deduplicated_job_no_longer_waiting_does_not_hold_back_a_new_one(worker):
    worker.start()
    first = jobs.submit("test", "sleep", dedup=True, seconds=0.05)
    assert jobs.wait(first, timeout=60)["status"] == "done"
    second = jobs.submit("test", "sleep", dedup=True, seconds=0.05)
    assert second != first and jobs.wait(second, timeout=60)["status"] == "done"
