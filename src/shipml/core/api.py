"""FastAPI factory: mounts every app's router under ``/api/<app>``, plus health, jobs, models, metrics.

Errors follow :mod:`shipml.core.error_policy`; who may call what, :mod:`shipml.core.access`; what every request
goes through (request id, body limit, metrics), :mod:`shipml.core.middleware`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from shipml.core import db, error_policy, heap, jobs, platform, registry, services, sources
from shipml.core.access import AdminDep, IsAdminDep
from shipml.core.app import App, resolve
from shipml.core.middleware import Metrics, RequestMiddleware
from shipml.core.outages import DATABASE, QUEUE, outages
from shipml.core.schemas import (
    AppStatus,
    ChampionMoved,
    ComponentHealth,
    HealthAnswer,
    JobAccepted,
    JobRecord,
    ModelVersion,
)
from shipml.core.versioned import VersionedReads
from shipml.settings import get_settings

log = logging.getLogger(__name__)


PUBLIC_JOB_FIELDS = ("id", "app", "name", "status", "progress", "message", "error", "attempts", "created_at",
                     "started_at", "finished_at")


def _public_job(record: Mapping[str, Any], admin: bool) -> JobRecord:
    """What a job record shows: everyone sees its status and progress (with its message and error); only admins see
    its params and result. A job's result is its submitter's: an admin's in the admin's views, a stranger's
    recommendation at its own address (``/api/shows/recommendations/{id}``), for the holder of its id."""
    if admin:
        return JobRecord.model_validate(record)
    shown = {k: record[k] for k in PUBLIC_JOB_FIELDS}
    for k in ("message", "error"):  # an app's message may name a file: never with its server folder
        shown[k] = sources.scrub_paths(shown[k])
    return JobRecord.model_validate(shown)


Detail = Mapping[str, object]  # what a part of health adds to ``ok``: its backend, queue length, app status…


def _check(fn: Callable[[], Detail | None], part: str | None = None) -> ComponentHealth:
    """One part of health. The reason of a failure goes to the log (an outage once per outage, see
    :mod:`shipml.core.outages`; anything else with its traceback); the answer names only the kind."""
    try:
        detail = fn()
    except Exception as exc:
        if error_policy.is_outage(exc):
            outages.down(part or error_policy.outage_part(exc) or "backing service", exc)
            return ComponentHealth(ok=False, error="unavailable")
        log.warning("health check %s failed", getattr(fn, "__name__", fn), exc_info=True)
        return ComponentHealth(ok=False, error=type(exc).__name__)
    if part is not None:
        outages.up(part)
    return ComponentHealth.model_validate({**(detail or {}), "ok": True})


def _database() -> Detail:
    with db.get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"backend": db.get_engine().dialect.name}


def _queue() -> Detail:
    huey = jobs.get_huey()
    return {"backend": "redis" if get_settings().redis_url else "sqlite", "pending": huey.pending_count()}


def _registry() -> Detail:
    registry.client().search_registered_models(max_results=1)
    return {"backend": get_settings().tracking_uri.split(":", 1)[0]}


def _services(apps: Sequence[App]) -> dict[str, ComponentHealth]:
    """Each enabled service's health; when they cannot be read at all, one entry ``all`` says why."""
    listed: dict[str, ComponentHealth] = {}

    def read() -> None:
        listed.update({key: ComponentHealth.model_validate(beat) for key, beat in services.status(list(apps)).items()})

    failed = _check(read)
    return listed if failed.ok else {"all": failed}


HEALTH_MAX_STALE = 5  # cache periods


class _Health:
    """The health answer. Requests get the last one; when it is older than ``health_cache_seconds`` one
    background thread computes the next (with 0, every request computes its own). An answer older than
    :data:`HEALTH_MAX_STALE` cache periods (nobody asked for a while) is not served: that request computes anew."""

    def __init__(self, apps: Sequence[App]) -> None:
        self._apps = list(apps)
        self._lock = threading.Lock()
        self._last: HealthAnswer | None = None
        self._at = -1e9
        self._refreshing = False

    def compute(self) -> HealthAnswer:
        components = {"database": _check(_database, DATABASE), "queue": _check(_queue, QUEUE),
                      "registry": _check(_registry, "registry")}
        app_status = {a.name: _check(partial(platform.status, a)) for a in self._apps}
        service_status = _services(self._apps)
        ok = all(c.ok for c in (*components.values(), *app_status.values(), *service_status.values()))
        answer = HealthAnswer(status="ok" if ok else "degraded", components=components, apps=app_status,
                              services=service_status)
        with self._lock:
            self._last, self._at, self._refreshing = answer, time.monotonic(), False
        return answer

    async def answer(self) -> HealthAnswer:
        ttl = get_settings().health_cache_seconds
        with self._lock:
            age = time.monotonic() - self._at
            last, stale = self._last, age >= ttl
            start = last is not None and stale and ttl > 0 and not self._refreshing
            if start:
                self._refreshing = True
        if last is None or ttl <= 0 or age > HEALTH_MAX_STALE * ttl:
            return await run_in_threadpool(self.compute)
        if start:
            threading.Thread(target=self._refresh, name="health", daemon=True).start()
        return last

    def _refresh(self) -> None:
        try:
            self.compute()
        except Exception:
            log.exception("health refresh failed")
            with self._lock:
                self._refreshing = False


def _accepted(job_id: str) -> JobAccepted:
    return JobAccepted(job_id=job_id)


def app_router(app: App) -> APIRouter:
    """The routes every app has, built from its declaration: status, and (admin) ingest, train and eval jobs."""
    router = APIRouter(prefix=f"/api/{app.name}", tags=[app.name])

    @router.get("/status", summary=f"{app.name}: data freshness and champion", response_model_exclude_unset=True)
    def status() -> AppStatus:
        return AppStatus.model_validate(platform.status(app))

    if app.ingest is not None:
        @router.post("/ingest", dependencies=[AdminDep], status_code=202, response_model=JobAccepted,
                     summary=f"{app.name}: refresh the data (retrains when new data is stored)")
        def start_ingest(source: Annotated[str | None, Query(max_length=2000)] = None) -> JobAccepted:
            if source:  # the job is given the source resolved here, whatever the working directory of its worker
                resolved = sources.resolve_remote_source(source, app.source_keywords)
                return _accepted(jobs.submit(app.name, "ingest", dedup=True, source=resolved))
            return _accepted(jobs.submit(app.name, "ingest", dedup=True))

    if app.models:
        @router.post("/train", dependencies=[AdminDep], status_code=202, response_model=JobAccepted,
                     summary=f"{app.name}: train every candidate, register the best, promote it")
        def start_train() -> JobAccepted:
            return _accepted(jobs.submit(app.name, "train", dedup=True))

        @router.post("/eval", dependencies=[AdminDep], status_code=202, response_model=JobAccepted,
                     summary=f"{app.name}: every candidate's figures on the holdout (nothing registered)")
        def start_eval() -> JobAccepted:
            return _accepted(jobs.submit(app.name, "eval", dedup=True))

    return router


def platform_router(apps: Sequence[App]) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["platform"])

    health = _Health(apps)

    @router.get("/health", response_model=HealthAnswer,
                responses={503: {"model": HealthAnswer, "description": "a part is down (status 'degraded'); see "
                                                                       "Retry-After"}})
    async def health_check() -> JSONResponse:
        """Database, queue, registry, and each app's data freshness and champion version (refreshed in the
        background at most once per ``SHIPML_HEALTH_CACHE_SECONDS``: a storm of probes is not a storm of
        registry queries). 503 when any part is down."""
        answer = await health.answer()
        return JSONResponse(answer.model_dump(mode="json", exclude_unset=True),
                            status_code=200 if answer.status == "ok" else 503)

    @router.get("/jobs", response_model_exclude_unset=True)
    def list_jobs(app: Annotated[str | None, Query(max_length=64)] = None,
                  status: Literal["queued", "running", "done", "failed"] | None = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0, admin: IsAdminDep = False,
                  ) -> list[JobRecord]:
        """Jobs, newest first. Without the admin token: status and progress only, and no job the public submitted
        (a recommendation request is its requester's business; its id is the key to its answer)."""
        listed = jobs.list_jobs(app=app, status=status, limit=limit, offset=offset, include_private=admin)
        return [_public_job(j, admin) for j in listed]

    @router.get("/jobs/{job_id}", response_model_exclude_unset=True)
    def get_job(job_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$")], admin: IsAdminDep = False) -> JobRecord:
        return _public_job(jobs.get(job_id), admin)

    @router.get("/models")
    def models() -> list[ModelVersion]:
        return [ModelVersion.model_validate(m) for m in registry.list_models()]

    @router.post("/models/{name}/champion", dependencies=[AdminDep])
    def move_champion(name: str, version: int) -> ChampionMoved:
        """Move the alias by hand; the API serves the new champion within the poll interval."""
        registry.set_champion(name, version)
        return ChampionMoved(model=name, champion=version)

    return router


def create_app(apps: Sequence[App]) -> FastAPI:
    """Build the API from the apps' declarations: each app's router and common routes under ``/api/<app>``."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        db.migrate()
        get_settings().token()
        for a in apps:
            platform.register_jobs(a)
        heap.settle()
        yield

    # /docs and /redoc with their JS and CSS served from the package: they render offline
    app = FastAPIOffline(title="shipml", version="0.1.0", lifespan=lifespan)
    metrics = Metrics()
    error_policy.install(app)

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(platform_router(apps))
    for a in apps:
        app.include_router(app_router(a))
        if a.router is not None:
            app.include_router(resolve(a.router), prefix=f"/api/{a.name}", tags=[a.name])
    error_policy.document(app)
    app.add_middleware(VersionedReads)  # inside: what RequestMiddleware does applies to it too
    app.add_middleware(RequestMiddleware, metrics=metrics)
    return app
