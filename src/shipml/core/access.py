"""Who may do what: admin endpoints need ``Authorization: Bearer <admin token>`` (missing → 401, wrong → 403);
public writes are rate-limited per client address."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shipml.core.errors import Forbidden, TooManyRequests, Unauthorized
from shipml.settings import get_settings

_bearer = HTTPBearer(auto_error=False)
_optional_bearer = HTTPBearer(auto_error=False, scheme_name="OptionalBearer",
                              description="optional: admins see more")


def _token_matches(given: str) -> bool:
    return secrets.compare_digest(given.encode("utf-8", "surrogatepass"), get_settings().token().encode())


def require_admin(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    if creds is None or not creds.credentials:
        raise Unauthorized("this endpoint needs 'Authorization: Bearer <admin token>' (see var/admin_token)")
    if not _token_matches(creds.credentials):
        raise Forbidden("the admin token is wrong")


def is_admin(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_optional_bearer)]) -> bool:
    """True with the right admin token; public callers are not refused, they see less."""
    return creds is not None and bool(creds.credentials) and _token_matches(creds.credentials)


AdminDep = Depends(require_admin)
IsAdminDep = Annotated[bool, Depends(is_admin)]


class _RateLimiter:
    """Public writes per client address: at most N in any 60 s window (in this API process; each process of a
    deployment counts its own). Clients are forgotten least recently seen first beyond 10,000."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def check(self, client: str, per_minute: int) -> None:
        now = time.monotonic()
        with self._lock:
            stamps = self._seen.pop(client, None) or deque()
            while stamps and now - stamps[0] >= 60:
                stamps.popleft()
            self._seen[client] = stamps
            while len(self._seen) > 10_000:
                self._seen.popitem(last=False)
            if len(stamps) >= per_minute:
                wait = int(60 - (now - stamps[0])) + 1
                raise TooManyRequests(f"at most {per_minute} writes a minute per client; try again in {wait} s",
                                      details={"retry_after": wait})
            stamps.append(now)


_limiter = _RateLimiter()


async def public_write(request: Request) -> None:
    """A write anyone may make (ratings, recommendation requests): rate-limited per client address (async: a
    lookup in memory, not worth a thread)."""
    _limiter.check(request.client.host if request.client else "unknown", get_settings().public_writes_per_minute)


PublicWrite = Depends(public_write)
