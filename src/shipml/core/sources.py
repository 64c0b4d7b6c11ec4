"""Where data may come from, and how it is fetched: the one gate for every app's URL and file sources.

* URLs: only ``http``/``https``; hosts from ``SHIPML_SOURCE_HOSTS`` when it is set (any public host when empty);
  never a private, loopback or link-local address unless ``SHIPML_ALLOW_PRIVATE_SOURCES`` is set — checked for
  the first request and every redirect; at most ``SHIPML_MAX_SOURCE_BYTES``, within the fetch timeout.
* Paths given through the API: only under ``SHIPML_SOURCE_DIRS`` (default: ``<home>/sources``), symlinks
  resolved. The command line is the operator's own shell and may name any file.

Errors say what is not allowed without saying whether a file exists.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from shipml.core.errors import Forbidden, SourceUnavailable
from shipml.settings import get_settings

SCHEMES = ("http", "https")


def is_url(source: str) -> bool:
    return urlsplit(source).scheme.lower() in SCHEMES


def check_url(url: str) -> None:
    """Refuse a URL the policy does not allow (scheme, host allow-list, private addresses)."""
    settings = get_settings()
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise Forbidden("a source URL must be http(s)://host/…")
    host = parts.hostname.lower()
    allowed = [h.strip().lower() for h in settings.source_hosts.split(",") if h.strip()]
    if allowed and host not in allowed:
        raise Forbidden(f"the host {host} is not among the allowed source hosts (SHIPML_SOURCE_HOSTS)")
    if settings.allow_private_sources:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)}
    except OSError as exc:
        raise SourceUnavailable(f"could not fetch {url}: the host {host} does not resolve") from exc
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            raise Forbidden(f"the host {host} is a private or local address; sources must be public "
                            "(SHIPML_ALLOW_PRIVATE_SOURCES=1 allows them)")


def fetch_url(url: str, timeout: float | None = None) -> bytes:
    """The body of ``url``, under the policy: every hop checked, size capped, time capped."""
    settings = get_settings()
    limit = settings.max_source_bytes

    def on_request(request: httpx.Request) -> None:
        check_url(str(request.url))

    try:
        with httpx.Client(timeout=timeout if timeout is not None else settings.fetch_timeout_seconds,
                          follow_redirects=True, max_redirects=5, event_hooks={"request": [on_request]}) as client:
            with client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise SourceUnavailable(f"{url} answered HTTP {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise SourceUnavailable(f"{url} is larger than the {limit:,}-byte source limit")
                return bytes(body)
    except httpx.HTTPError as exc:
        raise SourceUnavailable(f"could not fetch {url}: {type(exc).__name__}") from exc


def allowed_dirs() -> list[Path]:
    settings = get_settings()
    configured = [Path(p).expanduser() for p in settings.source_dirs.split(",") if p.strip()]
    return [p.resolve() for p in configured or [settings.resolved_home / "sources"]]


def check_remote_source(source: str) -> None:
    """A ``source=`` given through the API: a keyword (``synthetic``, ``scrape``…), an allowed URL, or a path under
    the allowed folders. Raises :class:`Forbidden` otherwise (saying nothing about the file)."""
    if source.isidentifier():
        return
    if is_url(source):
        check_url(source)
        return
    path = Path(source).expanduser().resolve()
    if not any(path == d or d in path.parents for d in allowed_dirs()):
        folders = ", ".join(str(d) for d in allowed_dirs())
        raise Forbidden(f"file sources given through the API must be under {folders} (SHIPML_SOURCE_DIRS)")
