"""Who may do what: admin endpoints need ``Authorization: Bearer <admin token>`` (missing → 401, wrong → 403);
public writes are rate-limited per client address (:mod:`shipml.core.ratelimit`)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shipml.core.errors import Forbidden, Unauthorized
from shipml.core.ratelimit import RateLimit
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


PUBLIC_WRITES = RateLimit("public-writes", lambda: get_settings().public_writes_per_minute, per_seconds=60)


async def public_write(request: Request) -> None:
    """A write anyone may make (ratings, recommendation requests): rate-limited per client address, counted across
    every API process when Redis is configured (see :mod:`shipml.core.ratelimit`)."""
    wait = await PUBLIC_WRITES.hit_async(request.client.host if request.client else "unknown")
    if wait is not None:
        raise PUBLIC_WRITES.refusal(wait, "writes")


PublicWrite = Depends(public_write)
