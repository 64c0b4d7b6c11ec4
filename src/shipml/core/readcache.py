"""Answers of read endpoints rendered once per version of what they read.

A read endpoint names the versions its answer depends on (a snapshot's content hash, a model version, a catalog
stamp) and the request's own values; the same key gets the same JSON bytes without recomputing or re-encoding
them. A new version makes a new key; old keys age out least recently used first. The versions themselves are reused for
``version_check_seconds`` (:func:`recent`), so an answer is at most that old, as the served model is at most
``champion_poll_seconds`` old; a version in use is looked up again in the background before its time is up
(:func:`fresh`), so that a steady stream of reads never meets an expired one.

A read marked :func:`~shipml.core.versioned.versioned` is answered one step earlier, in front of the router
(:mod:`shipml.core.versioned`).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response

from shipml.settings import get_settings

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_versions_lock = threading.Lock()
_versions: dict[tuple[str, Hashable], tuple[float, Any]] = {}  # (database, key) → (looked up at, value)
_lookups: dict[tuple[str, Hashable], Callable[[], Any]] = {}  # how each kept version is looked up again
_lookup_locks: dict[tuple[str, Hashable], threading.Lock] = {}
_ahead: dict[tuple[str, Hashable], threading.Thread] = {}  # refreshes under way, one per key at most


def _now() -> float:
    return time.monotonic()


def recent(key: Hashable, lookup: Callable[[], T]) -> T:
    """``lookup()`` (a data version: the latest snapshot, a catalog stamp) of this database, reused for
    ``version_check_seconds`` and looked up again in the background once three quarters of that have passed (as
    :func:`fresh`). Once that time is up, one caller looks it up again and callers at the same moment wait for its
    answer (no stampede on the database). A lookup that raises is not kept."""
    settings = get_settings()
    full = (settings.db_url, key)
    with _versions_lock:
        kept = _versions.get(full)
        _lookups[full] = lookup
        lock = _lookup_locks.setdefault(full, threading.Lock())
    if kept is not None and _now() - kept[0] < settings.version_check_seconds:
        _ahead_if_due(full, kept[0], settings.version_check_seconds)
        return kept[1]  # type: ignore[no-any-return]
    with lock:
        with _versions_lock:
            kept = _versions.get(full)
        if kept is not None and _now() - kept[0] < settings.version_check_seconds:
            return kept[1]  # type: ignore[no-any-return]  # looked up meanwhile by another caller
        return _look_up(full, lookup)  # type: ignore[no-any-return]


def _look_up(full: tuple[str, Hashable], lookup: Callable[[], Any]) -> Any:
    started = _now()  # the value is at least as new as this
    value = lookup()
    with _versions_lock:
        if full not in _versions or _versions[full][0] <= started:
            _versions[full] = (started, value)
    return value


def fresh(key: Hashable) -> Any | None:
    """What :func:`recent` holds for ``key`` in this database while it is still fresh, else None; never looks
    anything up (it is called on the event loop). Past three quarters of its time, a value is looked up again
    ahead, in the background, so that reads under steady load always find one fresh: without that, every request
    at the moment a version expired went the slow way at once, a thread and a database query each (the reads' p99
    at 64 connections, benchmarks/README.md)."""
    settings = get_settings()
    full = (settings.db_url, key)
    with _versions_lock:
        kept = _versions.get(full)
    if kept is None:
        return None
    if _now() - kept[0] >= settings.version_check_seconds:
        return None
    _ahead_if_due(full, kept[0], settings.version_check_seconds)
    return kept[1]


def _ahead_if_due(full: tuple[str, Hashable], looked_up: float, period: float) -> None:
    """Look a fresh value up again in the background once three quarters of its time have passed."""
    if _now() - looked_up < period * 0.75:
        return
    with _versions_lock:
        lookup = _lookups.get(full)
        if lookup is None or full in _ahead:
            return
        # a daemon thread, as for health: a lookup that hangs on a lost database never holds up the API's exit
        _ahead[full] = thread = threading.Thread(target=_refresh, args=(full, lookup), name="shipml-version",
                                                 daemon=True)
    thread.start()


def _refresh(full: tuple[str, Hashable], lookup: Callable[[], Any]) -> None:
    try:
        with _lookup_locks[full]:
            if get_settings().db_url == full[0]:  # the settings may have moved to another database (tests)
                _look_up(full, lookup)
    except Exception:  # noqa: BLE001 - kept as it was: the next caller past its time looks it up and sees the error
        pass
    finally:
        with _versions_lock:
            _ahead.pop(full, None)


def refreshes_ahead() -> list[threading.Thread]:
    """The refreshes under way (a caller that must see their result, e.g. a test, joins these)."""
    with _versions_lock:
        return list(_ahead.values())


class Kept(Generic[K, V]):
    """Values by key, least recently used out first, at most ``size`` of them; ``get`` never computes (so it may be
    called on the event loop), ``put`` keeps."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._values: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            self._trim()

    def _trim(self) -> None:
        while len(self._values) > self._size:
            self._values.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


class Bodies(Kept[Hashable, bytes]):
    """Rendered bodies by key, least recently used out first, at most ``size`` of them and ``max_bytes`` in all (a
    body larger than a tenth of that is not kept)."""

    def __init__(self, size: int = 512, max_bytes: int = 64 << 20) -> None:
        super().__init__(size)
        self._max_bytes = max_bytes
        self._bytes = 0

    def put(self, key: Hashable, value: bytes) -> None:
        if len(value) > self._max_bytes // 10:
            return
        with self._lock:
            old = self._values.pop(key, None)
            self._bytes += len(value) - (len(old) if old is not None else 0)
            self._values[key] = value
            self._trim()

    def _trim(self) -> None:
        while len(self._values) > self._size or self._bytes > self._max_bytes:
            self._bytes -= len(self._values.popitem(last=False)[1])

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._bytes = 0


class ReadCache:
    def __init__(self, size: int = 512, max_bytes: int = 64 << 20) -> None:
        self._bodies = Bodies(size, max_bytes)

    def answer(self, key: Hashable, build: Callable[[], Any]) -> Response:
        """The JSON answer for ``key``: cached, or ``build()`` rendered and kept (an error raised by ``build`` is
        not kept)."""
        body = self._bodies.get(key)
        if body is None:
            body = json.dumps(jsonable_encoder(build()), ensure_ascii=False, allow_nan=False,
                              separators=(",", ":")).encode()
            self._bodies.put(key, body)
        return Response(body, media_type="application/json")

    def kept(self, key: Hashable) -> Response | None:
        """The answer kept for ``key``, or None; never builds (it may be called on the event loop)."""
        body = self._bodies.get(key)
        return None if body is None else Response(body, media_type="application/json")

    def clear(self) -> None:
        self._bodies.clear()
