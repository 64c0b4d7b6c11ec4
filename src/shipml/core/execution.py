"""Running what a queue message names (the body of the Huey task): one job, or a batch from
:func:`shipml.core.jobs.submit_many`. Each job is claimed once (safe against duplicate delivery), keeps a heartbeat
while it runs, and ends ``done`` with its result or ``failed`` with its reason."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from itertools import groupby
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update

from shipml.core import db
from shipml.core.job_registry import JobContext, batch_function, function
from shipml.core.tables import Job, utcnow
from shipml.settings import get_settings

log = logging.getLogger(__name__)


def _heartbeat(job_ids: list[str], stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            with db.session() as s:
                s.execute(update(Job).where(Job.id.in_(job_ids), Job.status == "running")
                          .values(heartbeat_at=utcnow()))
        except Exception:  # a missed beat is not fatal; the next one retries
            log.warning("heartbeat of job(s) %s failed", ", ".join(job_ids[:3]), exc_info=True)


def run(message: str | list[str]) -> None:
    """Execute the jobs of one queue message (the body of the Huey task): one id, or a batch from
    :func:`submit_many`. Each is claimed once (safe against duplicate delivery) and ends ``done`` or ``failed`` on
    its own; the batch shares one claim, one heartbeat and one write of the results."""
    job_ids = [message] if isinstance(message, str) else list(message)
    records = _claim(job_ids)
    if not records:
        log.debug("job(s) %s not queued any more (run elsewhere); skipped", ", ".join(job_ids[:3]))
        return
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=([r.id for r in records], stop,
                                                     get_settings().job_heartbeat_seconds), daemon=True)
    beat.start()
    try:
        outcomes: list[tuple[str, dict[str, Any]]] = []
        kind: Callable[[Job], str] = lambda r: f"{r.app}.{r.name}"  # noqa: E731
        for key, group in groupby(sorted(records, key=kind), key=kind):
            batch = list(group)
            if batch_function(key) is not None and len(batch) > 1:
                outcomes += _execute_many(key, batch)
            else:
                outcomes += [(r.id, _execute(r)) for r in batch]
    finally:
        stop.set()
    _record(outcomes)


def _record(outcomes: list[tuple[str, dict[str, Any]]]) -> None:
    """Write the jobs' final values in one transaction: one statement executed with the rows of all jobs that end
    with the same columns (done, failed), not one statement built per job."""
    now = utcnow()
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for job_id, values in outcomes:
        by_columns.setdefault(tuple(sorted(values)), []).append({"job_id": job_id, "finished_at": now, **values})
    table = cast(Table, Job.__table__)
    with db.session() as s:
        for rows in by_columns.values():  # the columns set are the rows' keys (but job_id)
            s.connection().execute(update(table).where(table.c.id == bindparam("job_id")), rows)


def _claim(job_ids: list[str]) -> list[Job]:
    """Mark the still-queued jobs among these ``running`` (in one statement) and return their records."""
    now = utcnow()
    with db.session() as s:
        claimed = list(s.scalars(
            update(Job).where(Job.id.in_(job_ids), Job.status == "queued")
            .values(status="running", started_at=now, heartbeat_at=now, attempts=Job.attempts + 1, dedup_key=None)
            .returning(Job.id)).all())
        return list(s.scalars(select(Job).where(Job.id.in_(claimed))).all()) if claimed else []


def _execute(record: Job) -> dict[str, Any]:
    """Run one claimed job; the values its record ends with."""
    key = f"{record.app}.{record.name}"
    fn = function(key)
    try:
        if fn is None:
            raise RuntimeError(f"this worker does not know the job '{key}'")
        result = fn(JobContext(record.id, dict(record.params or {})), **(record.params or {}))
    except Exception as exc:  # the job fails visibly with its reason
        return _failed(record.id, key, exc)
    return {"status": "done", "progress": 1.0, "result": result}


def _execute_many(key: str, records: list[Job]) -> list[tuple[str, dict[str, Any]]]:
    """Run claimed jobs of one kind with its batch function; if the batch as a whole fails, each runs alone."""
    try:
        many = batch_function(key)
        assert many is not None
        results = many([JobContext(r.id, dict(r.params or {})) for r in records])
    except Exception:
        log.warning("a batch of %d %s jobs failed as a whole; running them one by one", len(records), key,
                    exc_info=True)
        return [(r.id, _execute(r)) for r in records]
    return [(r.id, _failed(r.id, key, result) if isinstance(result, Exception) else
             {"status": "done", "progress": 1.0, "result": result}) for r, result in zip(records, results, strict=True)]


def _failed(job_id: str, key: str, exc: BaseException) -> dict[str, Any]:
    log.error("job %s (%s) failed: %s", job_id, key, exc)
    reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    trace = "".join(traceback.format_exception(exc, limit=5))
    return {"status": "failed", "error": reason, "result": {"traceback": trace}}
