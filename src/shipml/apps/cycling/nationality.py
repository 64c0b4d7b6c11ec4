"""Nationality for every rider the data names: from every offline source, then from the riders' own PCS pages.

* :func:`read_saved_pages` — the procyclingstats package's saved PCS pages (``pcs_html_fixtures``): their parsed
  form (``<page>.json``, the package's ``parse()`` of ``<page>.txt``) lists nationalities in result tables,
  startlists and rankings (``rider_url`` + ``nationality``) and on rider pages; the saved HTML itself
  (``<page>.txt``) names more: a rider link beside one flag (``span.flag xx``, in the same cell) gives that rider's
  country, which finds the riders of a team time trial (whose parsed form has no nationality) and of pages
  saved after their parsed form was made (the rankings). Read by :mod:`.importers`.
* :func:`fill_from_rider_pages` — for the riders still without one, each rider's page through a
  :class:`~.pages_source.PageSource` (cached, rate-limited, retried with short timeouts; a rerun reads the cache
  and fetches only what is left, so a stopped run resumes), parsed by :func:`.scraper.rider_profile`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
from selectolax.parser import HTMLParser

from shipml.apps.cycling.pages_source import PageSource
from shipml.apps.cycling.schema import OBSERVATION_SCHEMA, conform
from shipml.apps.cycling.scraper import rider_profile
from shipml.core.progress import Progress, no_progress

SAVED_PAGES = "pcs_html_fixtures"
SOURCE = "pcs_html"


def read_saved_pages(folder: Path) -> pl.DataFrame:
    """Rider observations (slug and nationality only) from every ``*.json`` of a folder of saved PCS pages, then
    from every ``*.txt`` (the HTML, :func:`flagged_riders`); a rider named twice keeps the first nationality (the
    parsed pages first, each in file order). An unreadable file is skipped."""
    found: dict[str, str] = {}
    for path in sorted(Path(folder).glob("*.txt")):
        try:
            html = path.read_text(encoding="utf-8")
        except (OSError, ValueError):
            continue
        for slug, country in flagged_riders(html):
            found.setdefault(slug, country)
    from_html, found = found, {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            parsed = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if path.stem.startswith("rider_") and isinstance(parsed, dict):  # a rider page: rider_<slug>[_<more>].json
            parsed = {**parsed, "rider_url": "rider/" + path.stem.removeprefix("rider_").split("_")[0]}
        for slug, country in _named(parsed):
            found.setdefault(slug, country)
    for slug, country in from_html.items():
        found.setdefault(slug, country)
    frame = pl.DataFrame({"rider": list(found), "nationality": list(found.values())},
                         schema={"rider": pl.String(), "nationality": pl.String()})
    return conform(frame.with_columns(
        *[pl.lit(None, t).alias(c) for c, t in OBSERVATION_SCHEMA.items() if c not in ("rider", "nationality")]
    ).with_columns(source=pl.lit(SOURCE)), OBSERVATION_SCHEMA)


def flagged_riders(html: str) -> Iterator[tuple[str, str]]:
    """(slug, ISO code) for every rider link of a PCS page that shares its parent element (a table cell, a list
    item) with exactly one flag (``<span class="flag nl">``) and no other rider link. A flag elsewhere in the row (the
    country of a race in a team's or rider's results) is not the rider's and is not read."""
    for span in HTMLParser(html).css("span.flag"):
        classes = str(span.attributes.get("class") or "").split()
        parent = span.parent
        if parent is None or len(classes) != 2 or len(classes[1]) != 2 or len(parent.css("span.flag")) != 1:
            continue
        slugs = {slug for a in parent.css('a[href^="rider/"]')
                 if (slug := str(a.attributes.get("href") or "").removeprefix("rider/").split("/")[0])}
        if len(slugs) == 1 and " " not in (slug := slugs.pop()):
            yield slug, classes[1].upper()


def _named(value: Any) -> Iterator[tuple[str, str]]:
    """(slug, ISO code) of every mapping in ``value`` with a ``rider/<slug>`` URL and a 2-letter nationality."""
    if isinstance(value, dict):
        url, country = value.get("rider_url"), value.get("nationality")
        if isinstance(url, str) and url.startswith("rider/") and isinstance(country, str) and len(country) == 2:
            slug = url.removeprefix("rider/").split("/")[0]
            if slug and " " not in slug:
                yield slug, country.upper()
        for item in value.values():
            yield from _named(item)
    elif isinstance(value, list):
        for item in value:
            yield from _named(item)


def fill_from_rider_pages(riders: pl.DataFrame, pages: PageSource | None = None, progress: Progress = no_progress,
                          limit: int | None = None) -> tuple[pl.DataFrame, dict[str, int]]:
    """The riders table with nationality filled from the rider pages of those who have none.

    Only the nationality is taken from the page (the other fields keep their sources). Returns the table and what
    was done: ``asked`` (riders without nationality), ``filled``, ``missing`` (no such page or no nationality on it).
    ``limit`` reads at most that many pages (a first run can be spread over several).

    Raises:
        SourceUnavailable: a page could not be fetched after its retries (the pages read so far stay cached).
    """
    pages = pages or PageSource()
    todo = riders.filter(pl.col("nationality").is_null())["rider"].to_list()[:limit]
    found: dict[str, str] = {}
    for number, slug in enumerate(todo):
        progress(number / max(1, len(todo)), f"rider page {slug}")
        html = pages.get(f"rider/{slug}")
        profile = rider_profile(slug, html) if html is not None else None
        if profile is not None and isinstance(profile["nationality"], str):
            found[slug] = profile["nationality"]
    progress(1.0, f"{len(found)} of {len(todo)} nationalities from rider pages")
    filled = riders.with_columns(nationality=pl.coalesce(
        "nationality", pl.col("rider").replace_strict(found, default=None, return_dtype=pl.String)))
    return filled, {"asked": len(todo), "filled": len(found), "missing": len(todo) - len(found)}
