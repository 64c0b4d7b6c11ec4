"""The race app's rate limits, in one place: per client (the platform's limiter) and per device (vectorised).

Clients (one address, one race) are limited by :class:`shipml.core.ratelimit.RateLimit` (the kept library
``limits``, a moving window in Redis when ``SHIPML_REDIS_URL`` is set, shared by every API process, in memory
otherwise), at ``SHIPML_RACE_CLIENT_RATE`` in ``limits``' notation.

Devices are limited per API process with a token bucket per runner over numpy arrays: a gateway's batch of
10,000 pings is judged in one vectorised pass, where 10,000 calls to a limiter (10,000 Redis round trips) would
cost more than storing the batch. A device may so reach ``processes × rate``; the storage budget bounds the rest.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from limits import RateLimitItem

    from shipml.core.ratelimit import RateLimit


@lru_cache(maxsize=16)
def parse_rate(rate: str) -> RateLimitItem:
    """``"30/second"``, ``"60/minute"``, … (the notation of ``limits``)."""
    from limits import parse

    return parse(rate)


def client_limit(rate: str) -> RateLimit:
    """The platform's limiter (:mod:`shipml.core.ratelimit`: ``limits``, Redis when configured) at this rate."""
    from shipml.core.ratelimit import RateLimit

    item = parse_rate(rate)
    return RateLimit("race-ingest", item.amount, item.get_expiry())


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
