"""Values the server issues and later accepts back, signed so they cannot be made up (anonymous user ids).

The key is derived from the admin token (kept in the home folder), so it survives restarts and differs per
installation; changing the token invalidates what was issued."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from shipml.core.errors import InvalidInput
from shipml.settings import get_settings


def _key(purpose: str) -> bytes:
    return hmac.new(get_settings().token().encode(), f"shipml:{purpose}".encode(), hashlib.sha256).digest()


def issue(purpose: str, prefix: str = "") -> str:
    """A new random value with its signature: ``<prefix><random>.<signature>``."""
    value = f"{prefix}{secrets.token_hex(8)}"
    signature = hmac.new(_key(purpose), value.encode(), hashlib.sha256).hexdigest()[:16]
    return f"{value}.{signature}"


def verify(purpose: str, signed: str) -> str:
    """``signed`` if this server issued it for ``purpose``; :class:`InvalidInput` otherwise."""
    value, _, signature = signed.rpartition(".")
    expected = hmac.new(_key(purpose), value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:16]
    given = signature.encode("utf-8", "surrogatepass")  # bytes: compare_digest refuses non-ASCII text
    if not value or not hmac.compare_digest(given, expected.encode()):
        raise InvalidInput(f"unknown {purpose}: use the one a recommendation answer gave")
    return signed
