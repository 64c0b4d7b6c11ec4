"""Rate limits, one small value each: ``RateLimit(name, amount, per_seconds).hit(key)`` counts one request of
``key`` (a client address, a device…) and answers ``None`` when it is within the limit, else the seconds to wait.

Counted with the ``limits`` library in a moving window (no burst of twice the amount across a window's edge): in
Redis when ``SHIPML_REDIS_URL`` is set, so every API process of a deployment shares the counts (N processes allow the
amount once, not N times), in this process's memory otherwise (one process, the embedded default). Counters are
namespaced by ``SHIPML_QUEUE_NAME`` (one deployment's name) and by the limit's name, and expire with their window.
A Redis that cannot be reached is an outage (503), as for the queue.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from fastapi.concurrency import run_in_threadpool
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from shipml.core.errors import TooManyRequests
from shipml.settings import get_settings


@lru_cache(maxsize=8)
def _limiter(redis_url: str | None, namespace: str) -> MovingWindowRateLimiter:
    storage: Storage = (RedisStorage(redis_url, key_prefix=f"shipml:{namespace}:limits") if redis_url
                        else MemoryStorage())
    return MovingWindowRateLimiter(storage)


def limiter() -> MovingWindowRateLimiter:
    settings = get_settings()
    return _limiter(settings.redis_url, settings.queue_name)


@dataclass(frozen=True)
class RateLimit:
    """At most ``amount`` requests per key in any ``per_seconds``; ``amount`` may be a callable read at each hit (a
    setting)."""

    name: str
    amount: int | Callable[[], int]
    per_seconds: int = 60

    def item(self) -> RateLimitItemPerSecond:
        amount = self.amount() if callable(self.amount) else self.amount
        return RateLimitItemPerSecond(amount, self.per_seconds, namespace="shipml")

    def hit(self, key: str) -> int | None:
        """Count one request of ``key``: None when allowed, else the whole seconds until one is allowed again."""
        item, strategy = self.item(), limiter()
        if strategy.hit(item, self.name, key):
            return None
        reset = strategy.get_window_stats(item, self.name, key).reset_time
        return min(max(1, math.ceil(reset - time.time())), self.per_seconds)

    async def hit_async(self, key: str) -> int | None:
        """:meth:`hit` from a coroutine: in memory at once, over the network in a thread (the loop never waits)."""
        if get_settings().redis_url:
            return await run_in_threadpool(self.hit, key)
        return self.hit(key)

    def refusal(self, wait: int, what: str = "requests") -> TooManyRequests:
        """The 429 for a key that must wait ``wait`` seconds (its ``Retry-After``)."""
        amount = self.item().amount
        per = "a minute" if self.per_seconds == 60 else f"per {self.per_seconds} s"
        return TooManyRequests(f"at most {amount} {what} {per} per client; try again in {wait} s",
                               details={"retry_after": wait})
