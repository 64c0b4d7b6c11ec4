"""Answers of read endpoints rendered once per version of what they read.

A read endpoint names the versions its answer depends on (a snapshot's content hash, a model version, a catalog
stamp) and the request's own values; the same key gets the same JSON bytes without recomputing or re-encoding
them. A new version makes a new key; old keys age out least recently used first. The versions themselves are looked up
at most once per ``version_check_seconds`` (:func:`recent`), so an answer is at most that old, as the served model is
at most ``champion_poll_seconds`` old.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response

from shipml.settings import get_settings

T = TypeVar("T")
_versions_lock = threading.Lock()
_versions: dict[tuple[str, Hashable], tuple[float, Any]] = {}


def recent(key: Hashable, lookup: Callable[[], T]) -> T:
    """``lookup()`` (a data version: the latest snapshot, a catalog stamp) of this database, reused for
    ``version_check_seconds``. A lookup that raises is not kept."""
    settings = get_settings()
    full = (settings.db_url, key)
    now = time.monotonic()
    with _versions_lock:
        kept = _versions.get(full)
    if kept is not None and now - kept[0] < settings.version_check_seconds:
        return kept[1]  # type: ignore[no-any-return]
    value = lookup()
    with _versions_lock:
        _versions[full] = (now, value)
    return value


class ReadCache:
    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()

    def answer(self, key: Hashable, build: Callable[[], Any]) -> Response:
        """The JSON answer for ``key``: cached, or ``build()`` rendered and kept (an error raised by ``build`` is
        not kept)."""
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
        if body is None:
            body = json.dumps(jsonable_encoder(build()), ensure_ascii=False, allow_nan=False,
                              separators=(",", ":")).encode()
            with self._lock:
                self._bodies[key] = body
                while len(self._bodies) > self._size:
                    self._bodies.popitem(last=False)
        return Response(body, media_type="application/json")

    def clear(self) -> None:
        with self._lock:
            self._bodies.clear()
