"""Slow work as jobs: a Huey queue (SQLite by default, Redis when ``SHIPML_REDIS_URL`` is set) and a job
record per submission in the database.

A job is a function ``fn(ctx, **params)`` registered by an app with :func:`job`. :func:`submit` writes a
``queued`` record and enqueues it; the worker marks it ``running``, keeps a heartbeat while it runs, and ends it
``done`` (with its result) or ``failed`` (with the error), see :mod:`shipml.core.execution`. What a dying worker
leaves behind is put right by :mod:`shipml.core.reaper`, so no job stays ``queued`` or ``running`` forever.
:func:`submit_many` queues a burst of one kind as one write and one message (run as one batch). Periodic jobs are
enqueued by :func:`submit_periodic` once per period, however many workers run their schedulers: the job id is
derived from the job and the period, and the database keeps only the first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from sqlalchemy import Text, cast, delete, func, select
from sqlalchemy.exc import IntegrityError

from shipml.core import db, execution
from shipml.core.errors import Conflict, InvalidInput, NotFound, QueueUnavailable, TooManyRequests
from shipml.core.job_registry import JobContext, JobFn, ManyFn, batch_function, function, job, registered
from shipml.core.outages import QUEUE, outages
from shipml.core.tables import Job, utcnow
from shipml.settings import Settings, get_settings

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "done", "failed")

# the registry lives in job_registry (execution needs it, and this module needs execution); apps use it from here
__all__ = ["STATUSES", "JobContext", "JobFn", "JobState", "ManyFn", "batch_function", "enqueue", "function", "get",
           "get_huey", "job", "list_jobs", "pending", "registered", "states", "submit", "submit_many",
           "submit_periodic", "wait"]


def _make_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisHuey(settings.queue_name, url=settings.redis_url, results=False)
    return SqliteHuey(settings.queue_name, filename=str(settings.queue_path), results=False)


@cache
def _queue_for(redis_url: str | None, queue_path: str, queue_name: str) -> tuple[Huey, Any]:
    huey = _make_huey(get_settings())
    return huey, huey.task(name="shipml.run_job")(execution.run)


def _queue() -> tuple[Huey, Any]:
    s = get_settings()
    return _queue_for(s.redis_url, str(s.queue_path), s.queue_name)


def get_huey() -> Huey:
    return _queue()[0]


def enqueue(job_ids: list[str], delay: float | None = None) -> None:
    """One queue message for these jobs (a worker runs them as one batch)."""
    task, message = _queue()[1], job_ids[0] if len(job_ids) == 1 else job_ids
    if delay:
        task.schedule(args=(message,), delay=delay)
    else:
        task(message)
    outages.up(QUEUE)


def new_id() -> str:
    """A job id: 128 bits, random (uuid4: from the operating system's generator). A job submitted by the public is
    read back by its id alone, so the id must not be guessable."""
    return uuid.uuid4().hex


def dedup_key(app: str, name: str, params: dict[str, Any]) -> str:
    return hashlib.sha256(f"{app}.{name}:{json.dumps(params, sort_keys=True, default=str)}".encode()).hexdigest()


def pending(app: str, name: str, params: dict[str, Any]) -> str | None:
    """The id of a queued (not yet running) job ``app.name`` submitted with ``dedup`` and these params, if any."""
    key = dedup_key(app, name, params)
    with db.session() as s:
        return s.scalar(select(Job.id).where(Job.dedup_key == key, Job.status == "queued"))


def submit(app: str, name: str, *, dedup: bool = False, delay: float | None = None, **params: Any) -> str:
    """Create a ``queued`` job record, enqueue it, and return its id.

    With ``dedup``, an identical job still waiting in the queue is returned instead of a second one: atomically, as
    the database keeps one waiting job per key (a unique index), however many submitters race, in however many
    processes. ``delay`` (seconds) holds it back, so that a burst of triggers (data arriving) ends in one run."""
    _check_known(app, name)
    if not dedup:
        return submit_many(app, name, [params], delay=delay)[0]
    key = dedup_key(app, name, params)
    for _ in range(5):
        existing = pending(app, name, params)
        if existing is not None:
            return existing
        try:
            return _submit(app, name, [params], delay=delay, dedup=key)[0]
        except IntegrityError:  # another submitter recorded the same job first: return that one
            continue
    raise Conflict(f"an identical {app}.{name} job is being submitted and started; try again")


def submit_many(app: str, name: str, params: list[dict[str, Any]], *, delay: float | None = None,
                private: bool = False) -> list[str]:
    """Queue jobs of one kind together: their records in one transaction and one queue message for all, which a
    worker runs as one batch (a burst of small predictions costs one write, not one per job). All or nothing: the
    ids are returned only when every job is recorded and queued. ``private``: submitted by the public, the jobs are
    never listed to anyone but an admin (see :func:`list_jobs`); their ids are their holders' keys."""
    _check_known(app, name)
    return _submit(app, name, params, delay=delay, private=private)


def _submit(app: str, name: str, params: list[dict[str, Any]], *, delay: float | None = None, private: bool = False,
            dedup: str | None = None) -> list[str]:
    if not params:
        return []
    _check_cap(app, name, len(params))
    job_ids, now = [new_id() for _ in params], utcnow()
    with db.session() as s:
        s.add_all([Job(id=job_id, app=app, name=name, params=p, status="queued", progress=0.0, attempts=0,
                       created_at=now, private=private, dedup_key=dedup)
                   for job_id, p in zip(job_ids, params, strict=True)])
    _enqueue_or_forget(job_ids, delay)
    return job_ids


def _check_known(app: str, name: str) -> None:
    key = f"{app}.{name}"
    if function(key) is None:
        raise InvalidInput(f"unknown job '{key}'; known jobs: {', '.join(registered()) or 'none'}")


def _enqueue_or_forget(job_ids: list[str], delay: float | None = None) -> None:
    """Enqueue new jobs' message; if the queue cannot take it, remove the records and say the queue is down, so a
    caller never gets an id for a job that will not run."""
    try:
        enqueue(job_ids, delay)
    except Exception as exc:
        with db.session() as s:
            s.execute(delete(Job).where(Job.id.in_(job_ids), Job.status == "queued"))
        outages.down(QUEUE, exc)  # logged once per outage, not once per refused job
        log.debug("%d job(s) could not be queued (%s); records removed", len(job_ids), type(exc).__name__)
        raise QueueUnavailable("the job queue is unavailable; nothing was queued, try again shortly") from exc


def _check_cap(app: str, name: str, adding: int = 1) -> None:
    cap = get_settings().max_queued_jobs
    with db.session() as s:
        queued = s.scalar(select(func.count()).where(Job.app == app, Job.name == name, Job.status == "queued")) or 0
    if queued + adding > cap:
        raise TooManyRequests(f"{queued} {app}.{name} jobs are already waiting (the cap is {cap}); try again later",
                              details={"retry_after": 30})


def submit_periodic(app: str, name: str, period_start: datetime, **params: Any) -> str | None:
    """Enqueue the run of a periodic job for the period starting at ``period_start``, unless another scheduler
    already did (the id is derived from job and period, so the database keeps one). Returns the id, or None."""
    job_id = uuid.uuid5(uuid.NAMESPACE_URL, f"shipml:{app}.{name}@{period_start.isoformat()}").hex
    try:
        with db.session() as s:
            s.add(Job(id=job_id, app=app, name=name, params=params, status="queued", progress=0.0,
                      attempts=0, created_at=utcnow()))
    except IntegrityError:
        return None
    _enqueue_or_forget([job_id])
    return job_id


def _describe(j: Job) -> dict[str, Any]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t else None

    return {
        "id": j.id, "app": j.app, "name": j.name, "params": j.params, "status": j.status,
        "progress": j.progress, "message": j.message, "result": j.result, "error": j.error,
        "attempts": j.attempts, "created_at": iso(j.created_at), "started_at": iso(j.started_at),
        "finished_at": iso(j.finished_at), "private": j.private,
    }


def get(job_id: str) -> dict[str, Any]:
    with db.session() as s:
        j = s.get(Job, job_id)
        if j is None:
            raise NotFound(f"no job with id '{job_id}'")
        return _describe(j)


@dataclass(frozen=True, slots=True)
class JobState:
    """What a client waiting for a job needs of its record (no params, progress or times but the creation). The
    result is kept as stored, JSON text, and decoded only by a reader that asks for :attr:`result` (a burst's polls
    pass it on as it is: decoding every finished result was 15 % of the API's CPU in a burst)."""

    id: str
    app: str
    name: str
    status: str
    result_json: str | None
    error: str | None
    created_at: datetime

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def result(self) -> Any:
        return None if self.result_json is None else json.loads(self.result_json)


_STATES_PER_QUERY = 500  # ids per ``IN (…)``: far under SQLite's and PostgreSQL's limits on bound parameters


def states(job_ids: Collection[str]) -> dict[str, JobState]:
    """The states of these jobs, by id (an unknown id is absent): one query per 500 ids, one session for all."""
    wanted = list(dict.fromkeys(job_ids))
    found: dict[str, JobState] = {}
    columns = (Job.id, Job.app, Job.name, Job.status, cast(Job.result, Text).label("result_json"), Job.error,
               Job.created_at)
    with db.session() as s:
        for start in range(0, len(wanted), _STATES_PER_QUERY):
            for row in s.execute(select(*columns).where(Job.id.in_(wanted[start:start + _STATES_PER_QUERY]))):
                found[row.id] = JobState(row.id, row.app, row.name, row.status, row.result_json, row.error,
                                         row.created_at)
    return found


def list_jobs(app: str | None = None, status: str | None = None, limit: int = 50, offset: int = 0,
              include_private: bool = True) -> list[dict[str, Any]]:
    """Jobs, newest first; without ``include_private``, none submitted by the public (see :func:`submit_many`)."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}, not '{status}'")
    q = select(Job).order_by(Job.created_at.desc()).limit(limit).offset(offset)
    if app:
        q = q.where(Job.app == app)
    if status:
        q = q.where(Job.status == status)
    if not include_private:
        q = q.where(Job.private.is_(False))
    with db.session() as s:
        return [_describe(j) for j in s.scalars(q).all()]


def counts_by_status() -> dict[str, int]:
    with db.session() as s:
        rows = s.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(dict(rows))  # type: ignore[arg-type]
    return counts


def wait(job_id: str, timeout: float = 60.0, poll: float = 0.2) -> dict[str, Any]:
    """Block until a job is done or failed (for the CLI and tests)."""
    deadline = time.monotonic() + timeout
    while True:
        record = get(job_id)
        if record["status"] in ("done", "failed") or time.monotonic() > deadline:
            return record
        time.sleep(poll)


def latest(app: str, name: str) -> dict[str, Any] | None:
    """The newest job of ``app`` named ``name`` (e.g. an app's ``prepare``), or None."""
    q = select(Job).where(Job.app == app, Job.name == name).order_by(Job.created_at.desc()).limit(1)
    with db.session() as s:
        job = s.scalars(q).first()
        return _describe(job) if job is not None else None
