"""Many small jobs at once, as one API process sees them: concurrent submissions of one kind coalesced into one
:func:`jobs.submit_many` (one write, one queue message, run by a worker as one batch); clients reading their jobs'
states served by one query for all the reads asked at once (:class:`States`), and clients waiting for their results
by one query per tick for all of them, which hands each its finished state (:class:`Finished`): no query per client
per poll.

All live on the event loop of the request that uses them (a test client's loop, or the server's).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import Counter
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from shipml.core import db, execution, jobs
from shipml.core.tables import Job, utcnow
from shipml.settings import get_settings

log = logging.getLogger(__name__)

_TICK = 0.05  # seconds between two looks at which awaited jobs have finished
_CLOCK_MARGIN = timedelta(seconds=5)


class _Pending:
    def __init__(self) -> None:
        self.items: list[tuple[dict[str, Any], asyncio.Future[str]]] = []
        self.flush: asyncio.Task[None] | None = None
        self.writes: set[asyncio.Task[None]] = set()  # held here: the loop keeps only weak references to tasks


class Coalescer:
    """Submissions of the job ``app.name``: each caller awaits its own id; the ids are given only once the whole
    batch is recorded and queued, and an error (queue down, cap reached) reaches every caller of the batch.
    ``private``: the callers are the public, see :func:`jobs.submit_many`.

    ``cheap``: the jobs take milliseconds (a prediction from a loaded model), so this API process runs the batch it
    has just queued itself (with ``cheap_jobs_in_api``; off by default) rather than waiting for a worker to take the
    message: the same :func:`execution.run`, so each job is claimed once: whoever claims it first runs it, the
    other skips it; an API process that dies mid-batch leaves ``running`` jobs whose heartbeat stops, which the
    worker's reaper requeues."""

    def __init__(self, app: str, name: str, *, window: float = 0.02, max_batch: int = 500,
                 private: bool = False, cheap: bool = False) -> None:
        self.app, self.name, self.window, self.max_batch, self.private = app, name, window, max_batch, private
        self.cheap = cheap
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pending] = weakref.WeakKeyDictionary()

    async def submit(self, params: dict[str, Any]) -> str:
        loop = asyncio.get_running_loop()
        pending = self._loops.setdefault(loop, _Pending())
        future: asyncio.Future[str] = loop.create_future()
        pending.items.append((params, future))
        if len(pending.items) >= self.max_batch:
            items, pending.items = pending.items, []
            self._spawn(pending, self._write(items))
        elif pending.flush is None:
            pending.flush = self._spawn(pending, self._after_window(pending))
        return await future

    @staticmethod
    def _spawn(pending: _Pending, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        pending.writes.add(task)
        task.add_done_callback(pending.writes.discard)
        return task

    async def _after_window(self, pending: _Pending) -> None:
        await asyncio.sleep(self.window)
        items, pending.items, pending.flush = pending.items, [], None
        await self._write(items)

    async def _write(self, items: list[tuple[dict[str, Any], asyncio.Future[str]]]) -> None:
        if not items:
            return
        try:
            ids = await run_in_threadpool(lambda: jobs.submit_many(self.app, self.name, [p for p, _ in items],
                                                                   private=self.private))
        except Exception as exc:
            for _, future in items:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), job_id in zip(items, ids, strict=True):
            if not future.done():
                future.set_result(job_id)
        if self.cheap and get_settings().cheap_jobs_in_api:
            try:
                await run_in_threadpool(execution.run, ids)
            except Exception:  # the records are queued: the worker runs what this process could not
                log.warning("running %d %s.%s jobs in the API failed; the worker takes them", len(ids), self.app,
                            self.name, exc_info=True)


class _Reading:
    def __init__(self) -> None:
        self.wanted: dict[str, list[asyncio.Future[jobs.JobState | None]]] = {}
        self.reader: asyncio.Task[None] | None = None


class States:
    """The states of jobs asked by many concurrent requests, read with one query for all of them: the ids asked
    while a query runs are read together by the next (no window: a lone request is read at once). ``None`` for an
    unknown id; an error of the read reaches every caller of that read."""

    def __init__(self) -> None:
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Reading] = weakref.WeakKeyDictionary()

    async def get(self, job_id: str) -> jobs.JobState | None:
        loop = asyncio.get_running_loop()
        reading = self._loops.setdefault(loop, _Reading())
        future: asyncio.Future[jobs.JobState | None] = loop.create_future()
        reading.wanted.setdefault(job_id, []).append(future)
        if reading.reader is None:
            reading.reader = loop.create_task(self._read(reading))
        return await future

    @staticmethod
    async def _read(reading: _Reading) -> None:
        try:
            while reading.wanted:
                wanted, reading.wanted = reading.wanted, {}
                try:
                    found = await run_in_threadpool(jobs.states, list(wanted))
                except Exception as exc:
                    for futures in wanted.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                    continue
                for job_id, futures in wanted.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(found.get(job_id))
        finally:
            reading.reader = None
            for futures in reading.wanted.values():  # the loop is closing: nobody is left to read them
                for future in futures:
                    future.cancel()
            reading.wanted = {}


def _finished_since(oldest: datetime, after: datetime | None, waited: frozenset[str]) -> list[jobs.JobState]:
    """The states of the waited jobs that are done or failed: finished after ``after`` when given (one query on the
    indexed creation time since ``oldest``, whatever the number of waiters, then the records of the waited ones
    among them, 500 to a query)."""
    query = select(Job.id).where(Job.created_at >= oldest, Job.status.in_(("done", "failed")))
    if after is not None:
        query = query.where(Job.finished_at >= after)
    with db.session() as s:
        finished = waited.intersection(s.scalars(query))
    return [state for state in jobs.states(finished).values() if state.finished] if finished else []


class _Waiting:
    def __init__(self) -> None:
        self.events: dict[str, asyncio.Event] = {}
        self.created: dict[str, datetime] = {}
        self.waiters: Counter[str] = Counter()
        self.outcomes: dict[str, jobs.JobState | Exception] = {}
        self.ticker: asyncio.Task[None] | None = None


class Finished:
    """Wait (up to a timeout) until a job is done or failed; the finished job's state is handed back, read with
    the others' (no read of its own)."""

    def __init__(self) -> None:
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Waiting] = weakref.WeakKeyDictionary()

    async def wait(self, job_id: str, created_at: datetime, timeout: float) -> jobs.JobState | None:
        """The job's state once it is done or failed, or ``None`` if it is not after ``timeout`` seconds. An error
        of the read that would have seen it finished is raised."""
        loop = asyncio.get_running_loop()
        waiting = self._loops.setdefault(loop, _Waiting())
        event = waiting.events.setdefault(job_id, asyncio.Event())
        waiting.created[job_id] = created_at
        waiting.waiters[job_id] += 1
        if waiting.ticker is None:
            waiting.ticker = loop.create_task(self._tick(waiting))
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            outcome = waiting.outcomes.get(job_id)
            waiting.waiters[job_id] -= 1
            if waiting.waiters[job_id] <= 0:
                del waiting.waiters[job_id]
                waiting.events.pop(job_id, None)
                waiting.created.pop(job_id, None)
                waiting.outcomes.pop(job_id, None)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    @staticmethod
    async def _tick(waiting: _Waiting) -> None:
        try:
            after: datetime | None = None  # the first look takes every finished job; later ones what is new
            while waiting.events:
                started = utcnow()
                try:
                    finished = await run_in_threadpool(_finished_since, min(waiting.created.values()), after,
                                                       frozenset(waiting.events))
                except Exception as exc:  # the database did not answer: so is every waiter told
                    log.warning("looking up finished jobs failed", exc_info=True)
                    for job_id, event in waiting.events.items():
                        waiting.outcomes[job_id] = exc
                        event.set()
                    after = None
                else:
                    after = started - _CLOCK_MARGIN  # the worker's clock may lag this one a little
                    for state in finished:
                        if state.id in waiting.events:
                            waiting.outcomes[state.id] = state
                            waiting.events[state.id].set()
                await asyncio.sleep(_TICK)
        finally:
            waiting.ticker = None
