"""FastAPI factory: mounts every app's router under ``/api/<app>``, plus health, jobs, models, metrics.

Errors are always JSON ``{"error": {"code", "message"}}``. Endpoints that change state for everyone
depend on :data:`AdminDep` (``Authorization: Bearer <admin token>``; missing → 401, wrong → 403).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shipml.core import db, jobs, platform, registry, services, sources
from shipml.core.app import App
from shipml.core.errors import Forbidden, ShipmlError, TooManyRequests, Unauthorized
from shipml.settings import get_settings

log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False)
_optional_bearer = HTTPBearer(auto_error=False, scheme_name="OptionalBearer",
                              description="optional: admins see more")


def _token_matches(given: str) -> bool:
    return secrets.compare_digest(given.encode("utf-8", "surrogatepass"), get_settings().token().encode())


def require_admin(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    if creds is None or not creds.credentials:
        raise Unauthorized("this endpoint needs 'Authorization: Bearer <admin token>' (see var/admin_token)")
    if not _token_matches(creds.credentials):
        raise Forbidden("the admin token is wrong")


def is_admin(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_optional_bearer)]) -> bool:
    """True with the right admin token; public callers are not refused, they see less."""
    return creds is not None and bool(creds.credentials) and _token_matches(creds.credentials)


AdminDep = Depends(require_admin)


class _RateLimiter:
    """Public writes per client address: at most N in any 60 s window (in this API process; each process of a
    deployment counts its own). Clients are forgotten least recently seen first beyond 10,000."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def check(self, client: str, per_minute: int) -> None:
        now = time.monotonic()
        with self._lock:
            stamps = self._seen.pop(client, None) or deque()
            while stamps and now - stamps[0] >= 60:
                stamps.popleft()
            self._seen[client] = stamps
            while len(self._seen) > 10_000:
                self._seen.popitem(last=False)
            if len(stamps) >= per_minute:
                wait = int(60 - (now - stamps[0])) + 1
                raise TooManyRequests(f"at most {per_minute} writes a minute per client; try again in {wait} s",
                                      details={"retry_after": wait})
            stamps.append(now)


_limiter = _RateLimiter()


def public_write(request: Request) -> None:
    """A write anyone may make (ratings, recommendation requests): rate-limited per client address."""
    _limiter.check(request.client.host if request.client else "unknown", get_settings().public_writes_per_minute)


PublicWrite = Depends(public_write)
IsAdminDep = Annotated[bool, Depends(is_admin)]


def _public_job(record: dict[str, Any], admin: bool) -> dict[str, Any]:
    """What a job record shows: everyone sees status and progress; only admins see params and tracebacks."""
    if admin:
        return record
    result = record.get("result")
    if isinstance(result, dict) and "traceback" in result:
        result = None
    return {**{k: v for k, v in record.items() if k != "params"}, "result": result}


def _error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        message = str(err.get("msg")).removeprefix("Value error, ")  # pydantic's prefix for our own checks
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("shipml_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("shipml_http_request_seconds", "HTTP request latency", ["method", "route"],
                                 registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.registry.register(self)

    def collect(self) -> Any:  # job counts by status, read at scrape time
        gauge = GaugeMetricFamily("shipml_jobs", "Jobs by status", labels=["status"])
        try:
            for status, n in jobs.counts_by_status().items():
                gauge.add_metric([status], n)
        except Exception:
            log.warning("could not count jobs for /metrics", exc_info=True)
        yield gauge


def _check(fn: Callable[[], Any]) -> dict[str, Any]:
    try:
        detail = fn()
        return {"ok": True, **(detail or {})}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def _database() -> dict[str, Any]:
    with db.get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"backend": db.get_engine().dialect.name}


def _queue() -> dict[str, Any]:
    huey = jobs.get_huey()
    return {"backend": "redis" if get_settings().redis_url else "sqlite", "pending": huey.pending_count()}


def _registry() -> dict[str, Any]:
    registry.client().search_registered_models(max_results=1)
    return {"tracking_uri": get_settings().tracking_uri.split("@")[-1]}


def _route_label(request: Request) -> str:
    """The route template of a request with its mount prefix (``/api/covid/series``, ``/api/jobs/{job_id}``): a
    route included under a prefix knows only its own part, so the prefix is read off the request's path."""
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    if template is None:
        return "unmatched"
    rendered = template
    for name, value in request.scope.get("path_params", {}).items():
        rendered = rendered.replace("{" + name + "}", str(value)).replace("{" + name + ":path}", str(value))
    path = request.scope.get("path", "")
    return path[: len(path) - len(rendered)] + template if path.endswith(rendered) else template


def _is_outage(exc: BaseException) -> bool:
    """A database or queue that cannot be reached (not a mistake of the caller's, nor a bug)."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout

    while exc is not None:
        if isinstance(exc, OperationalError | InterfaceError | RedisConnectionError | RedisTimeout | ConnectionError):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


class JobAccepted(BaseModel):
    """A job was queued: poll ``GET /api/jobs/{job_id}``."""

    job_id: str


def _accepted(job_id: str) -> JSONResponse:
    return JSONResponse({"job_id": job_id}, status_code=202)


def app_router(app: App) -> APIRouter:
    """The routes every app has, built from its declaration: status, and (admin) ingest, train and eval jobs."""
    router = APIRouter(prefix=f"/api/{app.name}", tags=[app.name])

    @router.get("/status", summary=f"{app.name}: data freshness and champion")
    def status() -> dict[str, Any]:
        return app.status()

    if app.ingest is not None:
        @router.post("/ingest", dependencies=[AdminDep], status_code=202, response_model=JobAccepted,
                     summary=f"{app.name}: refresh the data (retrains when new data is stored)")
        def start_ingest(source: Annotated[str | None, Query(max_length=2000)] = None) -> JSONResponse:
            if source:
                sources.check_remote_source(source)
                return _accepted(jobs.submit(app.name, "ingest", dedup=True, source=source))
            return _accepted(jobs.submit(app.name, "ingest", dedup=True))

    if tuple(app.models()):
        @router.post("/train", dependencies=[AdminDep], status_code=202, response_model=JobAccepted,
                     summary=f"{app.name}: train every candidate, register the best, promote it")
        def start_train() -> JSONResponse:
            return _accepted(jobs.submit(app.name, "train", dedup=True))

        @router.post("/eval", dependencies=[AdminDep], status_code=202, response_model=JobAccepted,
                     summary=f"{app.name}: every candidate's figures on the holdout (nothing registered)")
        def start_eval() -> JSONResponse:
            return _accepted(jobs.submit(app.name, "eval", dedup=True))

    return router


def platform_router(apps: Sequence[App]) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["platform"])

    health_lock = threading.Lock()
    last_health: dict[str, Any] = {"at": -1e9, "body": None}

    @router.get("/health")
    def health() -> JSONResponse:
        """Database, queue, registry, and each app's data freshness and champion version.

        Checked at most once a second; requests in between get the last answer (a storm of health
        probes must not become a storm of registry queries)."""
        with health_lock:
            if time.monotonic() - last_health["at"] >= get_settings().health_cache_seconds:
                components = {"database": _check(_database), "queue": _check(_queue),
                              "registry": _check(_registry)}
                app_status = {a.name: _check(a.status) for a in apps}
                try:
                    service_status = services.status(list(apps))
                except Exception as exc:
                    service_status = {"all": {"ok": False, "error": f"{type(exc).__name__}"}}
                ok = all(c["ok"] for c in (*components.values(), *app_status.values(), *service_status.values()))
                last_health.update(at=time.monotonic(), body={
                    "status": "ok" if ok else "degraded", "components": components, "apps": app_status,
                    "services": service_status})
            body = last_health["body"]
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    @router.get("/jobs")
    def list_jobs(app: Annotated[str | None, Query(max_length=64)] = None,
                  status: Literal["queued", "running", "done", "failed"] | None = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0, admin: IsAdminDep = False,
                  ) -> list[dict[str, Any]]:
        return [_public_job(j, admin) for j in jobs.list_jobs(app=app, status=status, limit=limit, offset=offset)]

    @router.get("/jobs/{job_id}")
    def get_job(job_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$")], admin: IsAdminDep = False) -> dict[str, Any]:
        return _public_job(jobs.get(job_id), admin)

    @router.get("/models")
    def models() -> list[dict[str, Any]]:
        return registry.list_models()

    @router.post("/models/{name}/champion", dependencies=[AdminDep])
    def move_champion(name: str, version: int) -> dict[str, Any]:
        """Move the alias by hand; the API serves the new champion within the poll interval."""
        registry.set_champion(name, version)
        return {"model": name, "champion": version}

    return router


def create_app(apps: Sequence[App]) -> FastAPI:
    """Build the API from the apps' declarations: each app's router and common routes under ``/api/<app>``."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        db.migrate()
        get_settings().token()
        for a in apps:
            platform.register_jobs(a)
        yield

    # /docs and /redoc with their JS and CSS served from the package: they render offline
    app = FastAPIOffline(title="shipml", version="0.1.0", lifespan=lifespan)
    metrics = _Metrics()

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Any]) -> Any:
        start = time.perf_counter()
        request.state.request_id = uuid.uuid4().hex[:16]
        length = request.headers.get("content-length")
        limit = get_settings().max_body_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            response = _error(413, "body_too_large", f"the request body is limited to {limit:,} bytes")
        else:
            response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        path = _route_label(request)
        metrics.requests.labels(request.method, path, str(response.status_code)).inc()
        metrics.latency.labels(request.method, path).observe(time.perf_counter() - start)
        return response

    @app.exception_handler(ShipmlError)
    async def shipml_error(_: Request, exc: ShipmlError) -> JSONResponse:
        response = _error(exc.status_code, exc.code, exc.message, exc.details)
        if exc.status_code in (429, 503):
            retry = exc.details.get("retry_after", 5) if isinstance(exc.details, dict) else 5
            response.headers["Retry-After"] = str(retry)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", "-")
        if _is_outage(exc):
            log.warning("request %s: a backing service is unavailable: %s", request_id, type(exc).__name__)
            response = _error(503, "unavailable", "a backing service (database or queue) is unavailable; "
                                                  "try again shortly")
            response.headers["Retry-After"] = "5"
            return response
        if isinstance(exc, DataError):
            return _error(422, "invalid_input", "a value in the request cannot be stored; check its range and "
                                                "characters")
        log.exception("request %s: unhandled error", request_id)  # the traceback goes to the log, once
        response = _error(500, "internal_error", f"an unexpected error occurred (request id {request_id}); "
                                                 "it has been logged")
        response.headers["X-Request-ID"] = request_id
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error_with_headers(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = _error(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})  # e.g. Allow on a 405
        return response

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(platform_router(apps))
    for a in apps:
        app.include_router(app_router(a))
        if a.router is not None:
            app.include_router(a.router(), prefix=f"/api/{a.name}", tags=[a.name])
    _document_errors(app)
    return app


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """Every error: ``{"error": {"code", "message"}}``."""

    error: ErrorBody


_ERRORS = {
    "404": "not found (an id, a name, or data not ingested yet)",
    "409": "clashes with the current state",
    "413": "the request body is too large",
    "422": "the request is invalid; the message says what to fix",
    "429": "too many requests (rate limit or queue cap); see Retry-After",
    "500": "an unexpected error (with a request id; logged)",
    "502": "a data source could not be fetched",
    "503": "the database or the queue is unavailable; see Retry-After",
}
_ADMIN_ERRORS = {"401": "no admin token", "403": "a wrong admin token, or a source the policy does not allow"}


def _document_errors(app: FastAPI) -> None:
    """Every operation documents every status it can answer with, all with the one error body. Admin operations
    (security ``HTTPBearer``) also document 401 and 403; those where a token is optional say so."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = base()
        schema.setdefault("components", {}).setdefault("schemas", {}).update(
            {"ErrorResponse": ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")})
        schema["components"]["schemas"].update(ErrorResponse.model_json_schema(
            ref_template="#/components/schemas/{model}").get("$defs", {}))
        schema["components"]["schemas"]["ErrorResponse"].pop("$defs", None)
        ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                schemes = {name for requirement in operation.get("security", []) for name in requirement}
                if "OptionalBearer" in schemes:
                    operation["security"] = [{}, *operation["security"]]  # works without a token too
                errors = {**_ERRORS, **(_ADMIN_ERRORS if "HTTPBearer" in schemes else {})}
                responses = operation.setdefault("responses", {})
                for status, description in errors.items():
                    responses[status] = {"description": description, **ref}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
