"""A race's ingest policy, in one line: pings from devices not in the race are counted and not stored; each
device may send ``SHIPML_RACE_DEVICE_RATE`` (60/minute) and each client ``SHIPML_RACE_CLIENT_RATE`` (30/second)
requests, the excess counted and dropped (429 for a single position); a gateway batch needs the race's ingest key
(or the admin token); and a race stores at most ``participants × duration × 1 ping/s × SHIPML_RACE_BYTES_PER_PING
× SHIPML_RACE_BUDGET_MARGIN`` raw bytes, past which ingest answers 507.

What the edge drops is not lost from the counts: it is written to the raw log as compact EDGE_COUNT rows (one
per reason, see :mod:`.rawlog`), with the next stored pings or within ``COUNT_FLUSH_S`` by a background thread,
so the processor can add them to the live stats' rejected counts.
"""

from __future__ import annotations

import base64
import logging
import secrets
import threading
import time
from typing import Any

import numpy as np
import polars as pl

from shipml.core.errors import Forbidden, ShipmlError, TooManyRequests, Unauthorized
from shipml.settings import get_settings

from . import ingest, ratelimit, rawlog
from .definition import Race
from .settings import settings

log = logging.getLogger(__name__)

COUNT_FLUSH_S = 2.0
UNKNOWN, RATE_LIMITED, OVER_BUDGET = "unknown_device", "rate_limited", "over_budget"


class StorageBudgetExceeded(ShipmlError):
    status_code = 507
    code = "storage_budget_exceeded"


def budget_bytes(race: Race) -> int:
    """The raw-storage budget of a race: its field, pinging once a second for its duration, with a margin."""
    s = settings()
    return int(race.runners * race.definition.duration_h * 3600 * s.bytes_per_ping * s.budget_margin)


def check_budget(race: Race) -> None:
    used, budget = rawlog.usage.used(race.name), budget_bytes(race)
    if used >= budget:
        raise StorageBudgetExceeded(f"race {race.name} has used its raw-storage budget ({budget:,} bytes: "
                                    f"{race.runners:,} participants × {race.definition.duration_h:g} h at one ping a "
                                    "second); no more pings are stored. An admin can raise 'duration_h'.")


def _given_key(headers: Any) -> str | None:
    if headers.get("x-ingest-key"):
        return str(headers["x-ingest-key"])
    scheme, _, value = str(headers.get("authorization", "")).partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":  # OwnTracks over HTTP: the key as the password (the user is free)
        try:
            return base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except ValueError:
            raise Unauthorized("unreadable basic authorization") from None
    return None


def _same(given: str, expected: str | None) -> bool:
    return bool(expected) and secrets.compare_digest(given.encode("utf-8", "surrogatepass"),
                                                     str(expected).encode())


def trusted(race: Race, headers: Any, *, required: bool) -> bool:
    """True when the request carries the race's ingest key or the admin token; a wrong key is a 403, a missing
    one a 401 when ``required`` (a gateway batch; the simulator is a gateway too, and sends the key)."""
    given = _given_key(headers)
    if given:
        if _same(given, race.definition.ingest_key) or _same(given, get_settings().token()):
            return True
        raise Forbidden(f"the ingest key of race {race.name} is wrong")
    if required:
        raise Unauthorized(f"a batch of pings for race {race.name} needs its ingest key: 'X-Ingest-Key: <key>' or "
                           "'Authorization: Bearer <key>' (an admin sees the key in the race's definition)")
    return False


async def check_client(race: Race, client: str) -> None:
    """One request of a client to a race, within ``SHIPML_RACE_CLIENT_RATE`` or a 429 (Retry-After)."""
    wait = await ratelimit.client_limit(settings().client_rate).hit_async(f"{race.name}:{client}")
    if wait:
        raise TooManyRequests(f"at most {settings().client_rate} ingest requests per client for race {race.name}; "
                              f"try again in {wait} s", details={"retry_after": wait})


_BUCKETS: dict[tuple[str, str, int], ratelimit.DeviceBuckets] = {}
_BUCKETS_LOCK = threading.Lock()


def _buckets(race: Race) -> ratelimit.DeviceBuckets:
    key = (race.name, race.definition.digest, race.runners)
    with _BUCKETS_LOCK:
        if key not in _BUCKETS:
            for old in [k for k in _BUCKETS if k[0] == race.name]:
                del _BUCKETS[old]
            item = ratelimit.parse_rate(settings().device_rate)
            d = race.definition  # a sped-up simulation's trackers ping as often in race time, faster in wall time
            speedup = d.clock_speedup if d.clock_origin is not None else 1.0
            _BUCKETS[key] = ratelimit.DeviceBuckets(race.runners, item.amount, item.get_expiry() / speedup)
        return _BUCKETS[key]


def admit(race: Race, frame: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """The pings to store (known devices, within their rate) and the others, counted by reason."""
    kept, _, counts = _admit(race, frame)
    return kept, counts


def _admit(race: Race, frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray, dict[str, int]]:
    runner = race.devices.indices(frame["device"])
    known = runner >= 0
    keep = known.copy()
    keep[known] = _buckets(race).admit(runner[known].astype(np.int64), time.time())
    counts = {UNKNOWN: int((~known).sum()), RATE_LIMITED: int((known & ~keep).sum())}
    if keep.all():
        return frame, runner, {}
    return frame.filter(pl.Series(keep)), runner[keep], {k: v for k, v in counts.items() if v}


class _Pending:
    """Edge counts not yet in the raw log, per race; written with the next stored pings, or by a background
    thread within COUNT_FLUSH_S."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = {}
        self._thread: threading.Thread | None = None

    def add(self, race: str, counts: dict[str, int]) -> None:
        if not counts:
            return
        with self._lock:
            mine = self._counts.setdefault(race, {})
            for k, v in counts.items():
                mine[k] = mine.get(k, 0) + v
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="race-edge-counts", daemon=True)
                self._thread.start()

    def take(self, race: str) -> dict[str, int]:
        with self._lock:
            return self._counts.pop(race, {})

    def _run(self) -> None:
        while True:
            time.sleep(COUNT_FLUSH_S)  # a period, not a synchronisation: counts are batched for this long
            with self._lock:
                races = list(self._counts)
                if not races:
                    self._thread = None
                    return
            for race in races:
                counts = self.take(race)
                try:
                    rawlog.store(race, rawlog.count_rows(counts, time.time()))
                except Exception:
                    log.warning("race %s: could not store the edge counts; keeping them", race, exc_info=True)
                    self.add(race, counts)

    def flush(self, race: str) -> None:
        counts = self.take(race)
        if counts:
            rawlog.store(race, rawlog.count_rows(counts, time.time()))


pending = _Pending()


def accept(race: Race, frame: pl.DataFrame) -> dict[str, Any]:
    """Apply the policy to received pings: store what it admits (with the edge counts waiting), count the rest;
    say what the edge made of them."""
    check_budget(race)
    kept, runner, dropped = _admit(race, frame)
    verdict = ingest.judge(race, kept, runner)
    if kept.is_empty():
        pending.add(race.name, dropped)
    else:
        waiting = pending.take(race.name)
        for k, v in dropped.items():
            waiting[k] = waiting.get(k, 0) + v
        rows = [kept, rawlog.count_rows(waiting, time.time())] if waiting else [kept]
        try:
            rawlog.store(race.name, pl.concat(rows, how="vertical_relaxed"))
        except BaseException:
            pending.add(race.name, waiting)  # the counts wait for the next write; the pings are not acknowledged
            raise
    return {"stored": kept.height, "accepted": verdict["accepted"],
            "rejected": {**dropped, **verdict["rejected"]}}
