"""Show metadata from an external service, filled in once per show (as the original app did with its
metadata API the first time a show appeared).

An ``Enricher`` looks a title up and answers a dict of show fields, or None. ``TvmazeEnricher`` asks
TVmaze's public single-search endpoint. ``enrich_missing`` fills missing fields of shows never looked
up, stamps ``enriched_at`` even when nothing was found (so a show is not retried forever), and gives up
quickly when the service is unreachable, leaving the rest for the next run.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from difflib import SequenceMatcher
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from sqlalchemy import or_, select

from shipml.apps.shows.tables import Show
from shipml.apps.shows.titles import RESOLVE_THRESHOLD, normalize
from shipml.core import db
from shipml.core.errors import SourceUnavailable
from shipml.core.tables import utcnow

log = logging.getLogger(__name__)

TVMAZE_SINGLESEARCH = "https://api.tvmaze.com/singlesearch/shows?q="
FIELDS = ("year", "genres", "description", "poster_url")
Fetch = Callable[[str], dict[str, Any] | None]  # URL -> JSON object, None when the service has no match

_TAG = re.compile(r"<[^>]+>")


class Enricher(Protocol):
    def lookup(self, title: str) -> dict[str, Any] | None:
        """Fields for a show titled ``title`` (title, year, genres, description, poster_url), or None.
        Raises SourceUnavailable when the service cannot be reached."""
        ...


def strip_html(text: str | None) -> str | None:
    """Plain text from an HTML snippet (tags dropped, entities decoded, spaces collapsed)."""
    if not text:
        return None
    plain = " ".join(html.unescape(_TAG.sub(" ", text)).split())
    return plain or None


def show_from_tvmaze(record: dict[str, Any]) -> dict[str, Any]:
    """Show fields from one TVmaze ``/shows`` record."""
    premiered = record.get("premiered") or ""
    image = record.get("image") or {}
    genres = [g.strip() for g in record.get("genres") or [] if g and g.strip()]
    return {
        "external_id": str(record["id"]) if record.get("id") is not None else None,
        "title": (record.get("name") or "").strip(),
        "year": int(premiered[:4]) if premiered[:4].isdigit() else None,
        "genres": ",".join(genres) or None,
        "description": strip_html(record.get("summary")),
        "poster_url": image.get("original") or image.get("medium"),
    }


def http_fetch(timeout: float, client: httpx.Client | None = None) -> Fetch:
    """A fetch over HTTP: 404 → None; network errors and other HTTP errors → SourceUnavailable."""
    http = client or httpx.Client(follow_redirects=True, headers={"User-Agent": "shipml-shows"})

    def fetch(url: str) -> dict[str, Any] | None:
        try:
            response = http.get(url, timeout=timeout)
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"could not fetch {url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise SourceUnavailable(f"{url} answered HTTP {response.status_code}")
        body = response.json()
        return body if isinstance(body, dict) else None

    return fetch


class TvmazeEnricher:
    """Looks titles up with TVmaze's single search (https://api.tvmaze.com/singlesearch/shows?q=…).

    Single search is fuzzy and always answers its best guess, so a record is only accepted when its
    name is as close to the title as a typed title must be to resolve in the catalog.
    """

    def __init__(self, fetch: Fetch | None = None, timeout: float = 3) -> None:
        self.fetch = fetch or http_fetch(timeout)

    def lookup(self, title: str) -> dict[str, Any] | None:
        record = self.fetch(TVMAZE_SINGLESEARCH + quote(title))
        if not record or not record.get("name"):
            return None
        found = show_from_tvmaze(record)
        similarity = SequenceMatcher(None, normalize(title), normalize(found["title"]), autojunk=False).ratio()
        return found if similarity >= RESOLVE_THRESHOLD else None


def _needs_metadata() -> Any:
    return or_(*(getattr(Show, f).is_(None) for f in FIELDS))


def enrich_missing(limit: int = 50, enricher: Enricher | None = None) -> int:
    """Look up to ``limit`` shows never looked up that lack some metadata; fill only the missing fields.

    Returns the number of shows that gained at least one field. A show the service does not know is
    stamped too; an unverified (user-typed) show the service knows becomes verified. When the service
    is unreachable, stops at once (logging why) and returns what it had done; the shows not reached keep
    no stamp and are tried on the next run.
    """
    enricher = enricher or TvmazeEnricher()
    with db.session() as s:
        pending = select(Show.id, Show.title).where(Show.enriched_at.is_(None), _needs_metadata())
        todo = s.execute(pending.order_by(Show.id).limit(limit)).all()
    filled = 0
    for show_id, title in todo:
        try:
            found = enricher.lookup(title)
        except SourceUnavailable as exc:
            log.warning("show metadata lookup stopped after %d of %d shows: %s", filled, len(todo), exc.message)
            return filled
        except (httpx.HTTPError, ValueError) as exc:  # a malformed answer: skip this show, keep going
            log.warning("show metadata lookup for %r failed: %s", title, exc)
            found = None
        with db.session() as s:
            show = s.get(Show, show_id)
            if show is None:
                continue
            gained = False
            for key in FIELDS:
                if found and getattr(show, key) is None and found.get(key) is not None:
                    setattr(show, key, found[key])
                    gained = True
            if found and not show.verified:
                show.verified = True  # a user-typed title the service knows is a real show
            show.enriched_at = utcnow()
            filled += gained
    return filled
