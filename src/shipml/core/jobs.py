"""Slow work as jobs: a Huey queue (SQLite by default, Redis when ``SHIPML_REDIS_URL`` is set) and a job
record per submission in the database.

A job is a function ``fn(ctx, **params)`` registered by an app with :func:`job`. :func:`submit` writes a
``queued`` record and enqueues it; the worker marks it ``running``, keeps a heartbeat while it runs, and
ends it ``done`` (with its result) or ``failed`` (with the error). A worker that dies mid-job stops the
heartbeat: :func:`reap_stale` requeues such a job up to ``job_max_attempts`` times, then fails it with the
reason, so no job stays ``running`` forever. Periodic jobs are enqueued by :func:`submit_periodic` once per period,
however many workers run their schedulers: the job id is derived from the job and the period, and the database
keeps only the first.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from shipml.core import db
from shipml.core.errors import InvalidInput, NotFound, QueueUnavailable, TooManyRequests
from shipml.core.tables import Job, utcnow
from shipml.settings import Settings, get_settings

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "done", "failed")


@dataclass
class JobContext:
    """What a running job sees: its id and params, and a way to report progress."""

    job_id: str
    params: dict[str, Any]
    _last_write: float = field(default=0.0, repr=False)

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report progress in 0–1 (written at most 4 times a second, and always at 0 and 1)."""
        fraction = min(max(float(fraction), 0.0), 1.0)
        now = time.monotonic()
        if fraction not in (0.0, 1.0) and now - self._last_write < 0.25:
            return
        self._last_write = now
        values: dict[str, Any] = {"progress": fraction, "heartbeat_at": utcnow()}
        if message is not None:
            values["message"] = message
        with db.session() as s:
            s.execute(update(Job).where(Job.id == self.job_id, Job.status == "running").values(**values))


JobFn = Callable[..., Any]


_JOBS: dict[str, JobFn] = {}


def job(app: str, name: str) -> Callable[[JobFn], JobFn]:
    """Register ``fn(ctx, **params)`` as the job ``app.name``."""

    def register(fn: JobFn) -> JobFn:
        _JOBS[f"{app}.{name}"] = fn
        return fn

    return register


def registered() -> list[str]:
    return sorted(_JOBS)


def _make_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisHuey(settings.queue_name, url=settings.redis_url, results=False)
    return SqliteHuey(settings.queue_name, filename=str(settings.queue_path), results=False)


@cache
def _queue_for(redis_url: str | None, queue_path: str, queue_name: str) -> tuple[Huey, Any]:
    huey = _make_huey(get_settings())
    return huey, huey.task(name="shipml.run_job")(run)


def _queue() -> tuple[Huey, Any]:
    s = get_settings()
    return _queue_for(s.redis_url, str(s.queue_path), s.queue_name)


def get_huey() -> Huey:
    return _queue()[0]


def _enqueue(job_id: str, delay: float | None = None) -> None:
    task = _queue()[1]
    if delay:
        task.schedule(args=(job_id,), delay=delay)
    else:
        task(job_id)


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def pending(app: str, name: str, params: dict[str, Any]) -> str | None:
    """The id of a queued (not yet running) job ``app.name`` with these params, if there is one."""
    with db.session() as s:
        queued = s.scalars(select(Job).where(Job.app == app, Job.name == name, Job.status == "queued")).all()
        return next((j.id for j in queued if _same(j.params or {}, params)), None)


def submit(app: str, name: str, *, dedup: bool = False, delay: float | None = None, **params: Any) -> str:
    """Create a ``queued`` job record, enqueue it, and return its id.

    With ``dedup``, an identical job still waiting in the queue is returned instead of a second one. ``delay``
    (seconds) holds it back, so that a burst of triggers (data arriving) ends in one run."""
    key = f"{app}.{name}"
    if key not in _JOBS:
        raise InvalidInput(f"unknown job '{key}'; known jobs: {', '.join(registered()) or 'none'}")
    if dedup:
        existing = pending(app, name, params)
        if existing is not None:
            return existing
    _check_cap(app, name)
    job_id = uuid.uuid4().hex
    with db.session() as s:
        s.add(Job(id=job_id, app=app, name=name, params=params, status="queued", progress=0.0,
                  attempts=0, created_at=utcnow()))
    _enqueue_or_forget(job_id, delay)
    return job_id


def _enqueue_or_forget(job_id: str, delay: float | None = None) -> None:
    """Enqueue a new job's message; if the queue cannot take it, remove the record and say the queue is down, so a
    caller never gets an id for a job that will not run."""
    try:
        _enqueue(job_id, delay)
    except Exception as exc:
        with db.session() as s:
            s.execute(delete(Job).where(Job.id == job_id, Job.status == "queued"))
        log.warning("job %s could not be queued (%s); record removed", job_id, type(exc).__name__)
        raise QueueUnavailable("the job queue is unavailable; nothing was queued, try again shortly") from exc


def _check_cap(app: str, name: str) -> None:
    cap = get_settings().max_queued_jobs
    with db.session() as s:
        queued = s.scalar(select(func.count()).where(Job.app == app, Job.name == name, Job.status == "queued")) or 0
    if queued >= cap:
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
    _enqueue_or_forget(job_id)
    return job_id


def _heartbeat(job_id: str, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            with db.session() as s:
                s.execute(update(Job).where(Job.id == job_id, Job.status == "running")
                          .values(heartbeat_at=utcnow()))
        except Exception:  # a missed beat is not fatal; the next one retries
            log.warning("heartbeat of job %s failed", job_id, exc_info=True)


def run(job_id: str) -> None:
    """Execute one job record (the body of the Huey task). Safe against duplicate delivery."""
    settings = get_settings()
    now = utcnow()
    with db.session() as s:
        claimed = s.execute(  # type: ignore[attr-defined]
            update(Job).where(Job.id == job_id, Job.status == "queued")
            .values(status="running", started_at=now, heartbeat_at=now, attempts=Job.attempts + 1)
        ).rowcount
        record = s.get(Job, job_id)
    if not claimed or record is None:
        log.info("job %s is not queued any more; skipped", job_id)
        return
    key = f"{record.app}.{record.name}"
    fn = _JOBS.get(key)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(job_id, stop, settings.job_heartbeat_seconds),
                            daemon=True)
    beat.start()
    try:
        if fn is None:
            raise RuntimeError(f"this worker does not know the job '{key}'")
        result = fn(JobContext(job_id, dict(record.params or {})), **(record.params or {}))
        values: dict[str, Any] = {"status": "done", "progress": 1.0, "result": result}
    except Exception as exc:  # the job fails visibly with its reason
        log.error("job %s (%s) failed: %s", job_id, key, exc)
        reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        values = {"status": "failed", "error": reason, "result": {"traceback": traceback.format_exc(limit=5)}}
    finally:
        stop.set()
    with db.session() as s:
        s.execute(update(Job).where(Job.id == job_id).values(finished_at=utcnow(), **values))


def reap_stale(settings: Settings | None = None) -> list[str]:
    """Requeue or fail ``running`` jobs whose heartbeat stopped (their worker died). Returns their ids."""
    settings = settings or get_settings()
    cutoff = utcnow() - timedelta(seconds=settings.job_stale_seconds)
    requeue: list[str] = []
    touched: list[str] = []
    with db.session() as s:
        stale = s.scalars(select(Job).where(Job.status == "running", Job.heartbeat_at < cutoff)).all()
        for j in stale:
            lost = f"the worker running attempt {j.attempts} stopped (no heartbeat since {j.heartbeat_at:%H:%M:%S} UTC)"
            if j.attempts < settings.job_max_attempts:
                res = s.execute(update(Job).where(Job.id == j.id, Job.status == "running")
                                .values(status="queued", message=f"{lost}; requeued"))
                if res.rowcount:  # type: ignore[attr-defined]
                    requeue.append(j.id)
            else:
                s.execute(update(Job).where(Job.id == j.id, Job.status == "running")
                          .values(status="failed", finished_at=utcnow(),
                                  error=f"{lost}; gave up after {j.attempts} attempts"))
            touched.append(j.id)
    for job_id in requeue:
        _enqueue(job_id)
    return touched


def _waiting_in_queue() -> set[str]:
    """Ids of the jobs whose message is still in the queue (due now or scheduled for later)."""
    huey = get_huey()
    return {str(t.args[0]) for t in [*huey.pending(), *huey.scheduled()] if t.args}


def requeue_lost(settings: Settings | None = None) -> list[str]:
    """Requeue ``queued`` jobs whose message is no longer in the queue: a worker took it and died before it marked
    the job running. Only jobs older than ``job_stale_seconds`` are looked at; a duplicate delivery is harmless
    (:func:`run` claims a job once)."""
    settings = settings or get_settings()
    cutoff = utcnow() - timedelta(seconds=settings.job_stale_seconds)
    with db.session() as s:
        old = list(s.scalars(select(Job.id).where(Job.status == "queued", Job.created_at < cutoff)).all())
    if not old:
        return []
    waiting = _waiting_in_queue()
    lost = [job_id for job_id in old if job_id not in waiting]
    for job_id in lost:
        with db.session() as s:
            s.execute(update(Job).where(Job.id == job_id, Job.status == "queued")
                      .values(message="its queue message was lost with a worker; requeued"))
        _enqueue(job_id)
    return lost


def _describe(j: Job) -> dict[str, Any]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t else None

    return {
        "id": j.id, "app": j.app, "name": j.name, "params": j.params, "status": j.status,
        "progress": j.progress, "message": j.message, "result": j.result, "error": j.error,
        "attempts": j.attempts, "created_at": iso(j.created_at), "started_at": iso(j.started_at),
        "finished_at": iso(j.finished_at),
    }


def get(job_id: str) -> dict[str, Any]:
    with db.session() as s:
        j = s.get(Job, job_id)
        if j is None:
            raise NotFound(f"no job with id '{job_id}'")
        return _describe(j)


def list_jobs(app: str | None = None, status: str | None = None, limit: int = 50,
              offset: int = 0) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}, not '{status}'")
    q = select(Job).order_by(Job.created_at.desc()).limit(limit).offset(offset)
    if app:
        q = q.where(Job.app == app)
    if status:
        q = q.where(Job.status == status)
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
