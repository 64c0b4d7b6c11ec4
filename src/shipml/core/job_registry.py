"""The job registry: what a job function sees (:class:`JobContext`) and which function runs the job ``app.name``.

Apps register jobs with :func:`job` (re-exported by :mod:`shipml.core.jobs`); the worker's
:mod:`shipml.core.execution` looks them up here. Both import this module, and :mod:`shipml.core.jobs` imports
:mod:`shipml.core.execution` to make the queue's task, so the imports form no loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update

from shipml.core import db
from shipml.core.tables import Job, utcnow


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
ManyFn = Callable[[list[JobContext]], list[Any]]


_JOBS: dict[str, JobFn] = {}
_MANY: dict[str, ManyFn] = {}
_WARM: dict[str, Callable[[], object]] = {}


def job(app: str, name: str, *, many: ManyFn | None = None,
        warm: Callable[[], object] | None = None) -> Callable[[JobFn], JobFn]:
    """Register ``fn(ctx, **params)`` as the job ``app.name``. ``many(contexts)``, when given, runs a batch of them
    at once (see :func:`submit_many`) and returns one result per context, or the exception that failed it.
    ``warm()``, when given, is called once by a starting worker, off its queue (loading what the job needs, such as
    a model), so that the first jobs after a start do not pay for it."""

    def register(fn: JobFn) -> JobFn:
        _JOBS[f"{app}.{name}"] = fn
        if many is not None:
            _MANY[f"{app}.{name}"] = many
        if warm is not None:
            _WARM[f"{app}.{name}"] = warm
        return fn

    return register


def function(key: str) -> JobFn | None:
    """The function registered as the job ``app.name``, if this process knows it."""
    return _JOBS.get(key)


def batch_function(key: str) -> ManyFn | None:
    """The batch form registered with the job ``app.name``, if it has one."""
    return _MANY.get(key)


def warmers() -> dict[str, Callable[[], object]]:
    """The registered jobs' warm-up functions, by job."""
    return dict(_WARM)


def registered() -> list[str]:
    return sorted(_JOBS)
