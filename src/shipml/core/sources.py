"""Where data may come from, and how it is fetched: the one gate for every app's URL and file sources.

* URLs: only ``http``/``https``; hosts from ``SHIPML_SOURCE_HOSTS`` when it is set (any public host when empty);
  never a private, loopback or link-local address unless ``SHIPML_ALLOW_PRIVATE_SOURCES`` is set — checked for
  the first request and every redirect; at most ``SHIPML_MAX_SOURCE_BYTES``, within the fetch timeout.
* Paths given through the API: only under ``SHIPML_SOURCE_DIRS`` (default: ``<home>/sources``), symlinks
  resolved; a relative path (a bare name too) is taken inside those folders, never in the working directory of
  the process that reads it, and the job is given the resolved path. The command line is the operator's own shell
  and may name any file.
* What the public is shown of a source (:func:`public_source`): a URL without credentials or query, a keyword,
  a path relative to the allowed folder, or a file's bare name; never a server path.

Errors say what is not allowed without saying whether a file exists, or where the allowed folders are.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from shipml.core.errors import Forbidden, InvalidInput, NotFound, SourceOffline, SourceUnavailable
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
        raise SourceOffline(f"could not fetch {public_source(url)}: the host {host} does not resolve") from exc
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            raise Forbidden(f"the host {host} is a private or local address; sources must be public "
                            "(SHIPML_ALLOW_PRIVATE_SOURCES=1 allows them)")


def fetch_url(url: str, timeout: float | None = None) -> bytes:
    """The body of ``url``, under the policy: every hop checked, size capped, time capped."""
    settings = get_settings()
    limit = settings.max_source_bytes

    shown = public_source(url)  # errors are shown in refreshes and job records: no credentials or query

    def on_request(request: httpx.Request) -> None:
        check_url(str(request.url))

    try:
        with httpx.Client(timeout=timeout if timeout is not None else settings.fetch_timeout_seconds,
                          follow_redirects=True, max_redirects=5, event_hooks={"request": [on_request]}) as client:
            with client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise SourceUnavailable(f"{shown} answered HTTP {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise SourceUnavailable(f"{shown} is larger than the {limit:,}-byte source limit")
                return bytes(body)
    except httpx.HTTPError as exc:
        raise SourceOffline(f"could not fetch {shown}: {type(exc).__name__}") from exc


def allowed_dirs() -> list[Path]:
    settings = get_settings()
    configured = [Path(p).expanduser() for p in settings.source_dirs.split(",") if p.strip()]
    return [p.resolve() for p in configured or [settings.resolved_home / "sources"]]


KEYWORDS = ("synthetic",)  # the sources every app's ingest knows by name; an app may declare more
REFUSED = ("file sources given through the API must be under the allowed source folders (SHIPML_SOURCE_DIRS); a "
           "relative path is taken inside them")


def _inside(path: Path, folders: list[Path]) -> bool:
    return any(path == d or d in path.parents for d in folders)


def resolve_remote_source(source: str, keywords: Sequence[str] = KEYWORDS) -> str:
    """A ``source=`` given through the API, as the job will be given it: a keyword of the app, an allowed URL, or
    the resolved path of a file or folder under the allowed folders (a relative path is looked up in each allowed
    folder, the first where it exists). Raises :class:`Forbidden` for anything else (saying nothing about the file nor
    where the folders are), :class:`NotFound` for a path of the allowed folders that is not there."""
    if source in keywords:
        return source
    if any(ord(c) < 32 or ord(c) == 127 for c in source):  # a NUL would reach the file system's calls as a 500
        raise InvalidInput("a source may not contain control characters (NUL, newline, tab…): give a keyword, a URL "
                           "or a path")
    if is_url(source):
        check_url(source)
        return source
    path, folders = Path(source).expanduser(), allowed_dirs()
    candidates = [path.resolve()] if path.is_absolute() else [(d / path).resolve() for d in folders]
    inside = [c for c in candidates if _inside(c, folders)]
    if not inside:
        raise Forbidden(REFUSED)
    found = next((c for c in inside if c.exists()), None)
    if found is None:  # said at once rather than by a failed job (only of the allowed folders, named relatively)
        raise NotFound(f"no file or folder '{public_source(str(inside[0]))}' in the allowed source folders")
    return str(found)


def public_source(source: str) -> str:
    """A source as the public may see it: a URL without credentials, query or fragment; a keyword as it is; a path
    relative to the allowed folder it is in, else the file's bare name (no server path, no folder layout)."""
    if is_url(source):
        parts = urlsplit(source)
        host = parts.hostname or ""
        return urlunsplit((parts.scheme, f"{host}:{parts.port}" if parts.port else host, parts.path, "", ""))
    if "/" not in source and "\\" not in source:
        return source
    path = Path(source)
    for folder in allowed_dirs():
        if path.is_relative_to(folder) and path != folder:
            return path.relative_to(folder).as_posix()
    return path.name or "local file"


_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~-])/[^\s'\"(),;]+")


def scrub_paths(text: str | None) -> str | None:
    """A message with every absolute path in it shown as :func:`public_source` shows a source (URLs left alone)."""
    return _ABSOLUTE_PATH.sub(lambda m: public_source(m.group(0)), text) if text else text
