"""Reads answered before routing: a read marked :func:`versioned` is repeated by :class:`VersionedReads`, in front of
the router, for the same query string (or POST body) while the same version is current: the bytes of the first
answer, without routing, validation or a thread hop (a request whose version is not known fresh goes the normal way,
which looks it up). The versions are the ones :mod:`shipml.core.readcache` keeps fresh."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shipml.core.readcache import Bodies
from shipml.settings import get_settings

E = TypeVar("E", bound=Callable[..., Any])


def versioned(version: Callable[[], Hashable | None]) -> Callable[[E], E]:
    """Marks a read whose 200 answer is a function of ``version()`` and of the request's query string (a GET) or body
    (a POST that only reads, such as a search with filters) alone (no header, no caller, no clock), so that
    :class:`VersionedReads` may repeat it. ``version()`` runs on the event loop: it only reads what :func:`fresh`
    holds, and says None when that is not fresh (the request then goes the normal way). A repeat skips the route's
    dependencies: a read whose every request must be counted or checked (a rate limit, a token) is not marked. Put
    it under the route decorator."""

    def mark(endpoint: E) -> E:
        endpoint.read_version = version  # type: ignore[attr-defined]
        return endpoint

    return mark


READ_METHODS = ("GET", "POST")
MAX_KEYED_BODY = 16 << 10  # a POST read with a larger body goes the normal way (a key is not a megabyte)


async def _read_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """A request's whole body (None when it is over :data:`MAX_KEYED_BODY` or the client left), and a ``receive``
    that hands the app the same messages again, then the rest."""
    messages: list[Message] = []
    size, whole = 0, False
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break  # the client disconnected
        size += len(message.get("body", b""))
        if size > MAX_KEYED_BODY:
            break
        if not message.get("more_body", False):
            whole = True
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return (b"".join(m.get("body", b"") for m in messages) if whole else None), replay


class VersionedReads:
    """ASGI: repeats the answer of a :func:`versioned` read for the same path, query string (and body, for a POST)
    and version, before routing (the request id, metrics and error policy around it still apply), marked
    ``X-Cache: hit``. A read is known by its method and path once the router has sent one request there (a path
    without parameters: routers are not searched ahead, since they may include one another lazily). Only 200 JSON
    answers are kept: an error is answered anew each time.

    Routing and validation are most of a small read's cost (0.3 ms of CPU for a cycling search against 0.1 ms
    repeated here), and at saturation that cost is the tail: one API process beside the load generator on 2 cores
    answered 64 connections with a p99 of 150–300 ms at 0.3 ms a request, 15 ms at 0.1 ms (benchmarks/README.md)."""

    def __init__(self, app: ASGIApp, size: int = 1024, max_bytes: int = 64 << 20) -> None:
        self.app = app
        self.reads: dict[tuple[str, str], tuple[Callable[[], Hashable | None], object]] = {}  # (method, path) → …
        self.bodies = Bodies(size, max_bytes)

    def _learn(self, scope: Scope) -> None:
        version = getattr(scope.get("endpoint"), "read_version", None)
        if callable(version) and not scope.get("path_params"):
            self.reads[(scope["method"], scope["path"])] = (version, scope.get("route"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in READ_METHODS:
            await self.app(scope, receive, send)
            return
        read = self.reads.get((scope["method"], scope["path"]))
        if read is None:
            await self.app(scope, receive, send)
            self._learn(scope)
            return
        body: bytes | None = b""
        if scope["method"] == "POST":
            body, receive = await _read_body(receive)
        version, route = read[0](), read[1]
        key = None if version is None or body is None else (
            get_settings().db_url, scope["method"], scope["path"], scope["query_string"], body, version)
        kept = None if key is None else self.bodies.get(key)
        if kept is not None:
            scope["route"] = route  # for the metrics' route label
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"x-cache", b"hit"),
                                    (b"content-length", str(len(kept)).encode())]})
            await send({"type": "http.response.body", "body": kept})
            return
        if key is None:
            await self.app(scope, receive, send)
            return
        status, parts = 0, []

        async def keep(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if not content_type.startswith(b"application/json"):
                    status = -1  # not a JSON answer: not kept
            elif message["type"] == "http.response.body" and status == 200:
                parts.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self.bodies.put(key, b"".join(parts))
            await send(message)

        await self.app(scope, receive, keep)
