"""Polite access to procyclingstats.com pages: fetched over HTTP, cached on disk, rate-limited and retried.

Politeness: at most one request per ``Politeness.min_interval`` seconds (default 1 s); network errors,
timeouts, HTTP 429 and 5xx are retried with exponential backoff (2 s, 4 s, 8 s); every page is kept in an
on-disk cache (``<SHIPML_HOME>/cache/pcs/<url with / → _>.html``, a missing page as ``….missing``), so
a rerun fetches nothing it has and an interrupted scrape resumes where it stopped. Delete a file to
fetch it again.

The fetch itself is injectable (:data:`Fetch`); :func:`http_fetch` is the real network. Exception tree:
:class:`PageUnavailable` (retried) is a :class:`~shipml.core.errors.SourceUnavailable`; a missing page
(404) is :class:`~shipml.core.errors.NotFound` and is skipped, not retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from shipml.apps.cycling.settings import PCS
from shipml.core import files
from shipml.core.errors import NotFound, SourceOffline, SourceUnavailable
from shipml.settings import get_settings

log = logging.getLogger(__name__)

BASE_URL = PCS
USER_AGENT = "shipml-cycling/0.1 (+polite research scraper; 1 request/s)"
Fetch = Callable[[str], str]  # absolute URL → HTML; raises NotFound (404) or PageUnavailable (retry)


class PageUnavailable(SourceUnavailable):
    """A transient failure (network error, timeout, HTTP 429 or 5xx): worth retrying."""


@dataclass(frozen=True)
class Politeness:
    """How hard we may hit PCS: seconds between requests, retries, and the first backoff (doubling)."""

    min_interval: float = 1.0
    retries: int = 3
    backoff: float = 2.0


def http_fetch(client: httpx.Client | None = None, timeout: float = 20.0) -> Fetch:
    """The real network: GET with httpx; 404 → NotFound, transport errors/429/5xx → PageUnavailable."""
    http = client or httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=timeout, follow_redirects=True)

    def fetch(url: str) -> str:
        try:
            response = http.get(url)
        except httpx.TransportError as exc:
            raise PageUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 404:
            raise NotFound(f"{url}: page not found")
        if response.status_code == 429 or response.status_code >= 500:
            raise PageUnavailable(f"{url} answered HTTP {response.status_code}")
        if response.status_code >= 400:
            raise SourceUnavailable(f"{url} answered HTTP {response.status_code}")
        return response.text

    return fetch


class PageSource:
    """Cached, rate-limited, retrying access to PCS pages by relative URL (``race/tour-de-france/2024``)."""

    def __init__(self, fetch: Fetch | None = None, cache_dir: Path | None = None,
                 politeness: Politeness = Politeness(), clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.fetch = fetch or http_fetch()
        self.cache_dir = cache_dir or get_settings().resolved_home / "cache" / "pcs"
        self.politeness, self.clock, self.sleep = politeness, clock, sleep
        self.requests = 0  # network fetches made, retries included
        self._last: float | None = None

    def get(self, url: str) -> str | None:
        """The page's HTML, from the cache or the network; None when PCS has no such page.

        Raises:
            SourceUnavailable: the page could not be fetched after every retry (nothing is cached).
        """
        name = url.strip("/").replace("/", "_")
        page, missing = self.cache_dir / f"{name}.html", self.cache_dir / f"{name}.missing"
        if page.is_file():
            return page.read_text(encoding="utf-8")
        if missing.is_file():
            return None
        try:
            html = self._fetch_with_retries(BASE_URL + url.strip("/"))
        except NotFound:
            self._store(missing, "")
            return None
        self._store(page, html)
        return html

    def _fetch_with_retries(self, url: str) -> str:
        for attempt in range(self.politeness.retries + 1):
            self._wait_turn()
            try:
                return self.fetch(url)
            except PageUnavailable as exc:
                if attempt == self.politeness.retries:
                    raise SourceOffline(f"gave up after {attempt + 1} attempts: {exc.message}") from exc
                delay = self.politeness.backoff * 2**attempt
                log.warning("%s; retrying in %.0f s", exc.message, delay)
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _wait_turn(self) -> None:
        """Sleep until ``min_interval`` has passed since the previous request."""
        if self._last is not None:
            wait = self._last + self.politeness.min_interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last = self.clock()
        self.requests += 1

    def _store(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_text(path, text)  # an interrupted run never leaves half a page under the final name
