"""Hand-written helpers against the kept libraries that could replace them, on the calls we really make.

* signing (``core/signing.py``, anonymous user ids): one ``issue`` per new user, one ``verify`` per rating or
  feedback request, against itsdangerous' ``Signer`` (SHA-256) made once;
* the version cache (``readcache.recent``: a data version reused for ``version_check_seconds``), a hit on every read
  request, against ``cachetools.TTLCache`` behind a lock;
* the rendered-answer cache (``readcache.ReadCache``: LRU of JSON bodies), a hit on 200 keys cycling through a
  512-entry cache, against ``cachetools.LRUCache`` behind a lock (both build the same ``Response``);
* retries (``cycling/pages_source.py``: 3 retries, backoff 2 s doubling, sleep stubbed out so only the overhead is
  timed): a page fetched at the first try, and one fetched after two transient failures, against tenacity's
  ``Retrying`` with the same policy;
* track length (``race/tracks.track_length_m``) on real tracks: the pure-Python haversine loop it was, the numpy
  haversine it is, and pyproj's ``Geod.line_length`` on the same sphere.

tenacity is not a dependency: install it beside the script to measure it (``pip install --target /tmp/benchlibs
tenacity``, then ``PYTHONPATH=/tmp/benchlibs``); without it that figure is skipped. Rate limiting is not here: it
already uses ``limits``.

    .venv/bin/python benchmarks/libraries/run.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import SHARED, emit  # noqa: E402

BENCH = "libraries"


def per_call_us(fn: Callable[[], object], calls: int, repeat: int) -> float:
    """Median over ``repeat`` runs of the time of one call, in microseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls * 1e6)
    return sorted(times)[len(times) // 2]


def signing(repeat: int) -> None:
    from itsdangerous import BadSignature, Signer

    from shipml.core import signing as ours
    from shipml.settings import get_settings

    signer = Signer(get_settings().token(), salt="shipml:user_id", digest_method=hashlib.sha256)

    def theirs_verify(signed: str) -> str:
        try:
            return signer.unsign(signed).decode()
        except BadSignature as exc:
            raise ValueError("unknown user id") from exc

    mine, theirs = ours.issue("user_id", "anon-"), signer.sign(f"anon-{secrets.token_hex(8)}").decode()
    assert ours.verify("user_id", mine) == mine and theirs_verify(theirs)
    figures = {
        "issue": (lambda: ours.issue("user_id", "anon-"),
                  lambda: signer.sign(f"anon-{secrets.token_hex(8)}").decode()),
        "verify": (lambda: ours.verify("user_id", mine), lambda: theirs_verify(theirs)),
    }
    for name, (hand, library) in figures.items():
        emit(BENCH, f"signing {name}, hand-written (hmac)", per_call_us(hand, 20_000, repeat), "us/call")
        emit(BENCH, f"signing {name}, itsdangerous Signer", per_call_us(library, 20_000, repeat), "us/call")
    emit(BENCH, "signed id length, hand-written / itsdangerous", len(mine), "chars", itsdangerous=len(theirs))


def version_cache(repeat: int) -> None:
    from cachetools import TTLCache

    from shipml.core.readcache import recent
    from shipml.settings import get_settings

    cache: TTLCache[Hashable, Any] = TTLCache(maxsize=256, ttl=get_settings().version_check_seconds)
    lock, missing = threading.Lock(), object()

    def library(key: Hashable, lookup: Callable[[], Any]) -> Any:
        full = (get_settings().db_url, key)  # as recent(): one entry per database
        with lock:
            kept = cache.get(full, missing)
        if kept is not missing:
            return kept
        value = lookup()
        with lock:
            cache[full] = value
        return value

    def lookup() -> str:
        return "v1"

    emit(BENCH, "version cache hit, hand-written (dict + monotonic)",
         per_call_us(lambda: recent(("snapshot", "covid.daily"), lookup), 100_000, repeat), "us/call")
    emit(BENCH, "version cache hit, cachetools TTLCache + lock",
         per_call_us(lambda: library(("snapshot", "covid.daily"), lookup), 100_000, repeat), "us/call")
    emit(BENCH, "of which the key's settings.db_url (resolves and creates the home folder)",
         per_call_us(lambda: get_settings().db_url, 100_000, repeat), "us/call")


def answer_cache(repeat: int) -> None:
    import json

    from cachetools import LRUCache
    from fastapi.encoders import jsonable_encoder
    from fastapi.responses import Response

    from shipml.core.readcache import ReadCache

    class LibraryCache:
        def __init__(self, size: int = 512) -> None:
            self._lock = threading.Lock()
            self._bodies: LRUCache[Hashable, bytes] = LRUCache(maxsize=size)

        def answer(self, key: Hashable, build: Callable[[], Any]) -> Response:
            with self._lock:
                body = self._bodies.get(key)
            if body is None:
                body = json.dumps(jsonable_encoder(build()), ensure_ascii=False, allow_nan=False,
                                  separators=(",", ":")).encode()
                with self._lock:
                    self._bodies[key] = body
            return Response(body, media_type="application/json")

    payload = {"series": [{"day": f"2026-01-{d:02d}", "cases": d * 3.5} for d in range(1, 29)]}
    keys = [("covid", "abc123", "cases", n) for n in range(200)]
    for name, cache in (("hand-written (OrderedDict + lock)", ReadCache()),
                        ("cachetools LRUCache + lock", LibraryCache())):
        for key in keys:
            cache.answer(key, lambda: payload)
        turn = iter(range(10**9))
        emit(BENCH, f"answer cache hit, {name}",
             per_call_us(lambda c=cache, t=turn: c.answer(keys[next(t) % 200], lambda: payload), 50_000, repeat),
             "us/call")


def retries(repeat: int) -> None:
    try:
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential
    except ImportError:
        print("tenacity is not installed: the retry figures are skipped (see the docstring)", file=sys.stderr)
        return
    from shipml.apps.cycling.pages_source import PageSource, PageUnavailable, Politeness
    from shipml.core.errors import SourceUnavailable

    politeness = Politeness(min_interval=0.0, retries=3, backoff=2.0)
    failures = {"left": 0}

    def fetch(url: str) -> str:
        if failures["left"]:
            failures["left"] -= 1
            raise PageUnavailable(f"{url} answered HTTP 503")
        return "<html></html>"

    def no_sleep(seconds: float) -> None:
        pass

    with tempfile.TemporaryDirectory() as cache_dir:
        source = PageSource(fetch, Path(cache_dir), politeness, sleep=no_sleep)
        retrying = Retrying(stop=stop_after_attempt(politeness.retries + 1),
                            wait=wait_exponential(multiplier=politeness.backoff, exp_base=2),
                            retry=retry_if_exception_type(PageUnavailable), sleep=no_sleep, reraise=True)

        def library(url: str) -> str:
            def once() -> str:
                source._wait_turn()
                return source.fetch(url)
            try:
                return retrying(once)
            except PageUnavailable as exc:
                raise SourceUnavailable(f"gave up: {exc.message}") from exc

        for failing in (0, 2):
            def hand(n: int = failing) -> str:
                failures["left"] = n
                return source._fetch_with_retries("https://example.org/race/x")

            def lib(n: int = failing) -> str:
                failures["left"] = n
                return library("https://example.org/race/x")

            what = "first try" if not failing else f"after {failing} transient failures"
            emit(BENCH, f"retrying fetch, {what}, hand-written loop", per_call_us(hand, 20_000, repeat), "us/call")
            emit(BENCH, f"retrying fetch, {what}, tenacity Retrying", per_call_us(lib, 20_000, repeat), "us/call")


def track_length(repeat: int) -> None:
    from pyproj import Geod

    from shipml.apps.race.tracks import EARTH_RADIUS_M, read_track, track_length_m

    geod = Geod(a=EARTH_RADIUS_M, f=0.0)  # the same sphere: pyproj's ellipsoid would differ by up to 0.5 %

    def loop(lat: list[float], lon: list[float]) -> float:
        total = 0.0
        for i in range(1, len(lat)):
            p1, p2 = math.radians(lat[i - 1]), math.radians(lat[i])
            dp, dl = p2 - p1, math.radians(lon[i] - lon[i - 1])
            a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
            total += 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))
        return total

    for path in ("tracks_runpandas/strava_export.gpx", "tracks_arbatov/Evgeny_Arbatov_2023-09-30_06-50-34.GPX"):
        track = read_track(SHARED / "race" / path)
        candidates = {
            "pure-Python haversine loop": lambda t=track: loop(t["lat"].to_list(), t["lon"].to_list()),
            "numpy haversine (track_length_m)": lambda t=track: track_length_m(t),
            "pyproj Geod.line_length, same sphere": lambda t=track: float(
                geod.line_length(t["lon"].to_numpy(), t["lat"].to_numpy())),
        }
        reference = candidates["pure-Python haversine loop"]()
        for name, fn in candidates.items():
            value = fn()
            emit(BENCH, f"track length of {track.height:,} points, {name}", per_call_us(fn, 50, repeat) / 1000,
                 "ms/call", length_m=round(value, 3), rel_diff=abs(value - reference) / reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the retry loop logs every retry
    with tempfile.TemporaryDirectory() as home:
        os.environ["SHIPML_HOME"] = home
        for measure in (signing, version_cache, answer_cache, retries, track_length):
            measure(args.repeat)


if __name__ == "__main__":
    main()
