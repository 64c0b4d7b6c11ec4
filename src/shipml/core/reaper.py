"""What a crashed worker leaves behind, put right by any living worker: ``running`` jobs whose heartbeat stopped are
requeued (up to ``job_max_attempts``) or failed with the reason; ``queued`` jobs whose queue message was taken by a
worker that died before claiming them are requeued. A duplicate delivery is harmless (a job is claimed once)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from shipml.core import db
from shipml.core.jobs import enqueue, get_huey
from shipml.core.tables import Job, utcnow
from shipml.settings import Settings, get_settings


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
        enqueue([job_id])
    return touched


def _waiting_in_queue() -> set[str]:
    """Ids of the jobs whose message is still in the queue (due now or scheduled for later)."""
    huey = get_huey()
    messages = [t.args[0] for t in [*huey.pending(), *huey.scheduled()] if t.args]
    return {str(i) for m in messages for i in ([m] if isinstance(m, str) else m)}


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
        enqueue([job_id])
    return lost
