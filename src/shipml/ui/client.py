"""The UI's only way to the data: a small httpx client to the shipml API (``SHIPML_API_URL``).

    ApiError            base; ``message`` is what a page shows with ``st.error``
    └── ApiUnreachable  the API does not answer at all (not started, wrong URL, timed out)

A 4xx/5xx answer becomes an :class:`ApiError` carrying the API's own ``error.message`` and ``status``.
:func:`get` caches answers for a few seconds (:data:`CACHE_SECONDS`) so reruns of a page do not hammer the
API; :func:`get_fresh` asks every time (for what changes by the second: health, jobs, refreshes); :func:`get_or_stop`
shows the error on the page and stops it, for data a page cannot do without. Each takes ``model=``: the answer's
pydantic model (the one the route returns, from the app's ``schemas.py``), and then returns the parsed answer, so
a renamed field fails mypy and the tests rather than a page at run time.
:func:`ago` and :func:`timestamp` format the API's ISO times for people.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from functools import lru_cache, partial
from threading import Lock
from typing import Any, TypeVar, overload

import httpx
import humanize
import streamlit as st
from pydantic import TypeAdapter
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from shipml.settings import get_settings

TIMEOUT = httpx.Timeout(10.0, connect=2.0)
CACHE_SECONDS = 10
Params = dict[str, Any]
T = TypeVar("T")


class ApiError(Exception):
    """The API could not answer the request; ``message`` says why, in words a user understands."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None,
                 details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details  # the error's ``details`` from the API (e.g. suggestions), when it gave some


class ApiUnreachable(ApiError):
    """Nothing answered at the API URL."""


def api_url() -> str:
    return get_settings().api_url.rstrip("/")


_clients: dict[str, httpx.Client] = {}
_clients_lock = Lock()


def _client() -> httpx.Client:
    """One pooled client per API URL for the UI process: a new client per request opened a new connection each time
    (27–36 ms a request instead of about 1 ms, several requests a page). Streamlit runs sessions in threads; httpx's
    client is safe to share between them."""
    url = api_url()
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = httpx.Client(base_url=url, timeout=TIMEOUT,
                                                   limits=httpx.Limits(max_connections=32,
                                                                       max_keepalive_connections=8))
        return client


def _error_from(response: httpx.Response) -> ApiError:
    try:
        error = response.json().get("error") or {}
        message, code, details = str(error.get("message") or ""), error.get("code"), error.get("details")
    except (ValueError, AttributeError):
        message, code, details = "", None, None
    if not message:
        message = f"the API answered HTTP {response.status_code} for {response.request.url.path}"
    return ApiError(message, status=response.status_code, code=code, details=details)


def _request(path: str, params: Params, ok: tuple[int, ...] = (200,), body: Any = None) -> Any:
    query = {k: v for k, v in params.items() if v is not None}
    try:
        if body is None:
            response = _client().get(path, params=query)
        else:
            response = _client().post(path, params=query, json=body)
    except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout) as exc:
        raise ApiUnreachable(f"The API at {api_url()} did not answer {path} in time; "
                             "it may be busy. Try again in a moment.") from exc
    except httpx.HTTPError as exc:  # refused, DNS, connect timeout: nothing listens there
        raise ApiUnreachable(f"The API at {api_url()} is not reachable: start it with `make run`.") from exc
    if response.status_code not in ok:
        raise _error_from(response)
    try:
        return response.json()
    except ValueError as exc:
        raise ApiError(f"the API answered {path} with something that is not JSON",
                       status=response.status_code) from exc


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def _cached(path: str, params: tuple[tuple[str, Any], ...]) -> Any:
    return _request(path, dict(params))


@lru_cache(maxsize=256)
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def parse(model: type[T], answer: Any) -> T:
    """An API answer as its model (a :class:`pydantic.ValidationError` says which field does not fit)."""
    adapter: TypeAdapter[T] = _adapter(model)  # type: ignore[arg-type]  # a class or an alias: both hashable
    return adapter.validate_python(answer)


def _as(model: Any, answer: Any) -> Any:
    return answer if model is None else parse(model, answer)


@overload
def post(path: str, body: Any, *, model: type[T], **params: Any) -> T: ...
@overload
def post(path: str, body: Any, *, model: None = None, **params: Any) -> Any: ...
def post(path: str, body: Any, *, model: Any = None, **params: Any) -> Any:
    """``POST {SHIPML_API_URL}{path}`` with a JSON body → JSON, or ``model`` (never cached)."""
    return _as(model, _request(path, params, ok=(200, 201, 202), body=body))


def _frozen(params: Params) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list | tuple) else v) for k, v in params.items()))


_prefetcher = ThreadPoolExecutor(max_workers=8, thread_name_prefix="shipml-prefetch")


def prefetch(path: str, **params: Any) -> None:
    """Start asking for what :func:`get` ``(path, **params)`` will return, in the background, and return at once.

    A page names up front the answers it will need that do not depend on each other: they come in side by side
    instead of one after another. The later :func:`get` of the same path and params takes the answer from the
    cache, or waits for the request under way (Streamlit's cache computes a key once); an error is left to that
    :func:`get` to report (it asks again)."""
    frozen = _frozen(params)
    ctx = get_script_run_ctx(suppress_warning=True)

    def ask() -> None:
        if ctx is not None:  # the session's context: Streamlit's cache expects one in the thread that fills it
            add_script_run_ctx(threading.current_thread(), ctx)
        try:
            _cached(path, frozen)
        except ApiError:
            pass

    _prefetcher.submit(ask)


def ask_fresh(path: str, *, model: type[T], **params: Any) -> Callable[[], T]:
    """Start asking :func:`get_fresh` ``(path, model=model, **params)`` in the background; the call returned waits
    for its answer (or raises its :class:`ApiError`). For live answers a page needs that do not depend on each
    other: they come in side by side instead of one after another."""
    answer: Future[T] = _prefetcher.submit(partial(get_fresh, path, model=model, **params))
    return answer.result


@overload
def get(path: str, *, model: type[T], **params: Any) -> T: ...
@overload
def get(path: str, *, model: None = None, **params: Any) -> Any: ...
def get(path: str, *, model: Any = None, **params: Any) -> Any:
    """``GET {SHIPML_API_URL}{path}`` → JSON (or ``model``), cached for :data:`CACHE_SECONDS`.

    List values repeat the parameter (``metric=["a", "b"]`` → ``?metric=a&metric=b``).

    Raises:
        ApiUnreachable: the API does not answer.
        ApiError: the API answered with an error; ``message`` is its ``error.message``.
    """
    return _as(model, _cached(path, _frozen(params)))


@overload
def get_fresh(path: str, *, model: type[T], **params: Any) -> T: ...
@overload
def get_fresh(path: str, *, model: None = None, **params: Any) -> Any: ...
def get_fresh(path: str, *, model: Any = None, **params: Any) -> Any:
    """Like :func:`get`, without the cache."""
    return _as(model, _request(path, params))


@overload
def get_or_stop(path: str, *, model: type[T], fresh: bool = False, **params: Any) -> T: ...
@overload
def get_or_stop(path: str, *, model: None = None, fresh: bool = False, **params: Any) -> Any: ...
def get_or_stop(path: str, *, model: Any = None, fresh: bool = False, **params: Any) -> Any:
    """:func:`get` (or :func:`get_fresh`), or show the API's error on the page and stop drawing it: for the data a
    page cannot be drawn without."""
    try:
        return (get_fresh if fresh else get)(path, model=model, **params)
    except ApiError as exc:
        st.error(exc.message, icon=":material/error:")
        st.stop()


def health() -> dict[str, Any]:
    """``GET /api/health``, uncached; a degraded platform (503) still returns its body."""
    body = _request("/api/health", {}, ok=(200, 503))
    return body if isinstance(body, dict) else {}


def clear_cache() -> None:
    _cached.clear()


def _parse(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def ago(iso: str | None, now: datetime | None = None, short: bool = False) -> str:
    """``"2024-05-01T10:00:00+00:00"`` → ``"3 minutes ago"`` (``"never"`` for None); ``short``: ``"3 min ago"``,
    for a metric tile."""
    if not iso:
        return "never"
    delta = (now or datetime.now(UTC)) - _parse(iso)
    if delta.total_seconds() < 5:
        return "just now"
    if not short:
        return str(humanize.naturaltime(delta))
    seconds = delta.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def timestamp(iso: str | None) -> str:
    """An ISO time as ``"2024-05-01 10:00 UTC"``."""
    return _parse(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if iso else "—"
