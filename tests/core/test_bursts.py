"""Bursts of small jobs: many submissions as one write and one queue message, run by a real worker as one batch;
concurrent submissions coalesced; waiting for results without one query per waiter."""

import asyncio

import pytest

import sample_jobs  # noqa: F401  (registers the test jobs here too)
from shipml.core import jobs
from shipml.core.bursts import Coalescer, Finished, States
from shipml.core.errors import QueueUnavailable
from shipml.settings import get_settings


def run(coroutine):
    """Run a coroutine on a loop of its own, in a thread (another test in this process may have left a loop
    running in the main thread)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_a_batch_is_one_message_and_each_job_ends_on_its_own(worker):
    ids = jobs.submit_many("test", "square", [{"x": 3}, {"x": -1}, {"x": 4}])
    assert jobs.get_huey().pending_count() == 1 and {jobs.get(i)["status"] for i in ids} == {"queued"}
    worker.start()
    records = [jobs.wait(i, timeout=60) for i in ids]
    assert [r["status"] for r in records] == ["done", "failed", "done"], worker.output()
    assert records[0]["result"] == {"square": 9, "batch": 3}  # the batch function ran, once for all three
    assert records[2]["result"] == {"square": 16, "batch": 3}
    assert records[1]["error"] == "ValueError: -1 is negative" and records[1]["attempts"] == 1


def test_a_batch_the_queue_refuses_leaves_no_record(platform, monkeypatch):
    monkeypatch.setenv("SHIPML_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    get_settings.cache_clear()
    with pytest.raises(QueueUnavailable, match="nothing was queued"):
        jobs.submit_many("test", "square", [{"x": i} for i in range(10)])
    assert jobs.counts_by_status()["queued"] == 0


def test_a_batch_over_the_queue_cap_is_refused_whole(platform, monkeypatch):
    monkeypatch.setenv("SHIPML_MAX_QUEUED_JOBS", "5")
    get_settings.cache_clear()
    jobs.submit_many("test", "square", [{"x": i} for i in range(3)])
    with pytest.raises(Exception, match="the cap is 5"):
        jobs.submit_many("test", "square", [{"x": i} for i in range(3)])
    assert jobs.counts_by_status()["queued"] == 3


def test_concurrent_submissions_are_coalesced_into_one_batch(platform):
    coalescer = Coalescer("test", "square", window=0.05)

    async def burst():
        return await asyncio.gather(*(coalescer.submit({"x": i}) for i in range(40)))

    ids = run(burst())
    assert len(set(ids)) == 40 and jobs.get_huey().pending_count() == 1
    assert [jobs.get(i)["params"] for i in ids] == [{"x": i} for i in range(40)]  # each caller got its own id


def test_every_caller_of_a_refused_batch_gets_the_error(platform, monkeypatch):
    monkeypatch.setenv("SHIPML_REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    coalescer = Coalescer("test", "square", window=0.05)

    async def burst():
        return await asyncio.gather(*(coalescer.submit({"x": i}) for i in range(10)), return_exceptions=True)

    outcomes = run(burst())
    assert all(isinstance(o, QueueUnavailable) for o in outcomes)
    assert jobs.counts_by_status()["queued"] == 0


def test_waiters_wake_when_their_jobs_finish_and_time_out_otherwise(worker):
    finished = Finished()
    ids = jobs.submit_many("test", "square", [{"x": i} for i in range(20)])
    created = [jobs.get(i) for i in ids]

    async def wait_all(timeout):
        from datetime import datetime

        await asyncio.gather(*(finished.wait(r["id"], datetime.fromisoformat(r["created_at"]), timeout)
                               for r in created))

    run(wait_all(0.3))  # no worker yet: every wait ends at its timeout
    assert {jobs.get(i)["status"] for i in ids} == {"queued"}
    worker.start()
    run(wait_all(60))
    assert {jobs.get(i)["status"] for i in ids} == {"done"}, worker.output()


def test_concurrent_reads_of_job_states_are_one_query(platform):
    """Many requests asking for job states at once are answered by one query; an unknown id reads as None."""
    from sqlalchemy import event

    from shipml.core import db

    ids = jobs.submit_many("test", "square", [{"x": i} for i in range(50)])
    unknown = jobs.new_id()
    statements = []

    def count(conn, cursor, statement, *args):
        if "job" in statement.lower() and statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    states = States()

    async def read_all():
        return await asyncio.gather(*(states.get(i) for i in [*ids, unknown, ids[0]]))

    event.listen(db.get_engine(), "before_cursor_execute", count)
    try:
        found = run(read_all())
    finally:
        event.remove(db.get_engine(), "before_cursor_execute", count)
    assert len(statements) == 1, statements
    assert [s.id for s in found[:50]] == ids and found[50] is None and found[51] == found[0]
    assert {(s.app, s.name, s.status, s.result, s.error) for s in found[:50]} == {("test", "square", "queued", None,
                                                                                 None)}


def test_a_waiter_is_handed_the_finished_state_done_or_failed(worker):
    """What the wait hands back is the job's final state (result, or error), read with the other waiters'."""
    finished = Finished()
    ids = jobs.submit_many("test", "square", [{"x": 3}, {"x": -1}])
    created = jobs.states(ids)
    worker.start()

    async def wait_all():
        return await asyncio.gather(*(finished.wait(i, created[i].created_at, 60) for i in ids))

    done, failed = run(wait_all())
    assert (done.status, done.result, done.error) == ("done", {"square": 9, "batch": 2}, None), worker.output()
    assert (failed.status, failed.error) == ("failed", "ValueError: -1 is negative")


def test_a_wait_that_times_out_hands_back_nothing(platform):
    finished = Finished()
    job_id = jobs.submit_many("test", "square", [{"x": 1}])[0]

    async def wait():
        return await finished.wait(job_id, jobs.states([job_id])[job_id].created_at, 0.2)

    assert run(wait()) is None
