"""What every request goes through, as plain ASGI middleware (no per-request task or body copy): a request id
(``X-Request-ID``), the body size limit (413, checked on ``Content-Length`` and on the bytes as they arrive),
Prometheus metrics by route template, the answer to any exception no handler took (see
:func:`shipml.core.error_policy.exception_response`: answered here, not re-raised to the server, so the server logs
no traceback of its own and keeps the client's connection), and ``Retry-After`` on every 503."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shipml.core import jobs
from shipml.core.error_policy import RETRY_AFTER, error_response, exception_response, outage_part
from shipml.core.outages import outages
from shipml.settings import get_settings

log = logging.getLogger(__name__)


class Metrics:
    """Requests and latency by method, route template and status; jobs by status, read at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("shipml_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("shipml_http_request_seconds", "HTTP request latency", ["method", "route"],
                                 registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.registry.register(self)

    def collect(self) -> Any:
        gauge = GaugeMetricFamily("shipml_jobs", "Jobs by status", labels=["status"])
        try:
            for status, n in jobs.counts_by_status().items():
                gauge.add_metric([status], n)
        except Exception as exc:
            part = outage_part(exc)
            if part is not None:
                outages.down(part, exc)
            else:
                log.warning("could not count jobs for /metrics", exc_info=True)
        yield gauge


def route_label(scope: Scope) -> str:
    """The route template of a request with its mount prefix (``/api/covid/series``, ``/api/jobs/{job_id}``): a
    route included under a prefix knows only its own part, so the prefix is read off the request's path."""
    template = getattr(scope.get("route"), "path", None)
    if template is None:
        return "unmatched"
    rendered = template
    for name, value in scope.get("path_params", {}).items():
        rendered = rendered.replace("{" + name + "}", str(value)).replace("{" + name + ":path}", str(value))
    path = scope.get("path", "")
    return path[: len(path) - len(rendered)] + template if path.endswith(rendered) else template


class BodyTooLarge(HTTPException):
    """A body over the limit, found while it arrives (no ``Content-Length``); answered by the error policy."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is limited to {limit:,} bytes")


class RequestMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        limit = get_settings().max_body_bytes
        status, started = 500, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                headers = message.setdefault("headers", [])
                headers.append((b"x-request-id", request_id.encode()))
                if status == 503 and not any(k.lower() == b"retry-after" for k, _ in headers):
                    headers.append((b"retry-after", RETRY_AFTER.encode()))
            await send(message)

        received = 0

        async def receive_capped() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
            return message

        try:
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > limit):
                too_large = BodyTooLarge(limit)
                await error_response(413, "body_too_large", too_large.detail)(scope, receive, send_with_id)
            else:
                try:
                    await self.app(scope, receive_capped, send_with_id)
                except Exception as exc:
                    if started:  # too late for an answer of ours: the server ends the response
                        raise
                    await exception_response(request_id, exc)(scope, receive, send_with_id)
        finally:
            route, method = route_label(scope), scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)
