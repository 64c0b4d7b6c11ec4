"""The race app's rate limits, in one place: per client (the kept library ``limits``) and per device (vectorised).

Clients (one address, one race) are limited with ``limits``' sliding window counter, stored in Redis when
``SHIPML_REDIS_URL`` is set (shared by every API process) and in memory otherwise. This is the one use of
``limits`` in the race app, kept apart so it can be merged with the platform's public write limiter.

Devices are limited per API process with a token bucket per runner over numpy arrays: a gateway's batch of
10,000 pings is judged in one vectorised pass, where 10,000 calls to a limiter (10,000 Redis round trips) would
cost more than storing the batch. A device may so reach ``processes × rate``; the storage budget bounds the rest.
"""

from __future__ import annotations

import math
import threading
import time
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.strategies import RateLimiter


@lru_cache(maxsize=4)
def _limiter(storage_url: str) -> RateLimiter:
    from limits.storage import storage_from_string
    from limits.strategies import SlidingWindowCounterRateLimiter

    return SlidingWindowCounterRateLimiter(storage_from_string(storage_url))


@lru_cache(maxsize=16)
def parse_rate(rate: str) -> RateLimitItem:
    """``"30/second"``, ``"60/minute"``, … (the notation of ``limits``)."""
    from limits import parse

    return parse(rate)


def client_hit(storage_url: str | None, rate: str, race: str, client: str) -> int:
    """Count one request of a client to a race; 0 when allowed, else the seconds to wait."""
    limiter, item = _limiter(storage_url or "memory://"), parse_rate(rate)
    if limiter.hit(item, "shipml-race-ingest", race, client):
        return 0
    reset = limiter.get_window_stats(item, "shipml-race-ingest", race, client).reset_time
    return max(1, math.ceil(reset - time.time()))


class DeviceBuckets:
    """A token bucket per runner of one race: ``amount`` pings in ``seconds``, refilled evenly."""

    def __init__(self, runners: int, amount: int, seconds: float) -> None:
        self.rate = amount / seconds
        self.burst = float(amount)
        self.tokens = np.full(runners, self.burst)
        self.at = np.zeros(runners)
        self._lock = threading.Lock()

    def admit(self, runner: npt.NDArray[np.int64], now: float) -> npt.NDArray[np.bool_]:
        """Which pings (of these runners, in order) are within their device's rate; takes their tokens."""
        keep = np.zeros(runner.size, dtype=bool)
        if runner.size == 0:
            return keep
        order = np.argsort(runner, kind="stable")
        ordered = runner[order]
        ids, first, counts = np.unique(ordered, return_index=True, return_counts=True)
        rank = np.arange(ordered.size) - np.repeat(first, counts)  # the n-th ping of its device in this batch
        with self._lock:
            tokens = np.minimum(self.burst, self.tokens[ids] + np.maximum(now - self.at[ids], 0.0) * self.rate)
            allowed = np.minimum(np.floor(tokens), counts)
            self.tokens[ids] = tokens - allowed
            self.at[ids] = now
        keep[order] = rank < np.repeat(allowed, counts)
        return keep
