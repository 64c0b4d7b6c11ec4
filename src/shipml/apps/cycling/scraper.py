"""A polite procyclingstats.com scraper built on the ``procyclingstats`` package.

For each (race, year): the race overview (name, class, one-day or stages) → for a one-day race its result
page, for a stage race every stage's result page and the final GC (from the last stage's page) → then
every rider's page (nationality, birth date, specialty points, team). Output: the same two tables as
:mod:`.importers` (``source="pcs_scrape"``).

Pages come from a :class:`~.pages_source.PageSource` (cached, rate-limited, retried: see :mod:`.pages_source`).
The package's classes parse the pages offline (``html=…, update_html=False``); the fetch itself is
injectable. No network is reachable where this is developed: the scraper is only tested offline, with a
fetch that serves the package's own saved PCS pages (``shared/data/cycling/pcs_html_fixtures``). A missing
page (404) is skipped and listed in :attr:`Scraped.missing`; a page the package cannot parse is skipped and
listed in :attr:`Scraped.unparsed`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import polars as pl
from procyclingstats import Race, Rider, Stage
from procyclingstats.errors import ExpectedParsingError, UnexpectedParsingError

from shipml.apps.cycling.pages_source import PageSource
from shipml.apps.cycling.schema import (
    OBSERVATION_SCHEMA,
    POINT_COLUMNS,
    RESULTS_SCHEMA,
    combine_results,
    display_name,
    merge_riders,
)
from shipml.core.progress import Progress

log = logging.getLogger(__name__)

# points_per_speciality() keys → riders columns
_POINT_KEYS = dict(zip(("one_day_races", "gc", "time_trial", "sprint", "climber"), POINT_COLUMNS, strict=True))
Page = TypeVar("Page", Race, Stage)
_PARSE_ERRORS = (AttributeError, IndexError, KeyError, TypeError, ValueError)
# A page whose layout the package no longer understands (NameError: procyclingstats 0.2.8's Stage.results
# reads an unset variable on some layouts).
_PAGE_ERRORS = (ExpectedParsingError, UnexpectedParsingError, NameError, *_PARSE_ERRORS)


@dataclass
class Scraped:
    """The two tables, plus the pages that do not exist and those the package could not parse (both skipped)."""

    results: pl.DataFrame
    riders: pl.DataFrame
    missing: list[str] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)


def scrape(races: Iterable[tuple[str, int]], *, pages: PageSource | None = None, rider_pages: bool = True,
           extra_riders: Iterable[str] = (), progress: Progress | None = None) -> Scraped:
    """Scrape the results of ``races`` ((slug, year) pairs) and the riders in them.

    Args:
        pages: where pages come from (default: the network through the cache under ``SHIPML_HOME``).
        rider_pages: also read every rider's page (one request per rider not yet cached).
        extra_riders: rider slugs whose pages to read (and keep in the riders table) even without a result.
    """
    pages = pages or PageSource()
    report = progress or (lambda _f, _m: None)
    races = list(races)
    missing: list[str] = []
    unparsed: list[str] = []
    results: list[dict[str, object]] = []
    seen: list[dict[str, object]] = []
    for number, (race, year) in enumerate(races):
        report(0.7 * number / max(1, len(races)), f"race {race} {year}")
        rows = _race_rows(pages, race, year, missing, unparsed)
        results += rows
        seen += [{"rider": r["rider"], "name": r.pop("_name"), "nationality": r.pop("_nationality")} for r in rows]
    slugs = sorted({str(r["rider"]) for r in results} | set(extra_riders)) if rider_pages else []
    profiles = []
    for number, slug in enumerate(slugs):
        report(0.7 + 0.3 * number / max(1, len(slugs)), f"rider {slug}")
        html = pages.get(f"rider/{slug}")
        if html is None:
            missing.append(f"rider/{slug}")
        elif profile := rider_profile(slug, html):
            profiles.append(profile)
    frame = pl.DataFrame(results, schema={c: t for c, t in RESULTS_SCHEMA.items() if c != "source"})
    table = combine_results([frame.with_columns(source=pl.lit("pcs_scrape"))])
    observations = pl.DataFrame(profiles + [_observation(**s) for s in seen], schema=OBSERVATION_SCHEMA)
    report(1.0, f"{table.height} results, {len(missing)} missing and {len(unparsed)} unparsed pages")
    return Scraped(table, merge_riders(observations, table, keep_unraced=True), missing, unparsed)


def race_class(race: Race) -> str | None:
    """The UCI class ("2.UWT", "1.Pro", "NC", …) from the overview's "Classification:" entry."""
    for item in race.html.css(".list > li"):
        label, _, value = item.text(separator="|", strip=True).partition("|")
        if label.rstrip(":").strip().lower() == "classification" and value.strip():
            return value.strip()
    return None


def _race_rows(pages: PageSource, race: str, year: int, missing: list[str],
               unparsed: list[str]) -> list[dict[str, object]]:
    url = f"race/{race}/{year}"
    overview = _page(pages, Race, url, missing)
    if overview is None:
        return []
    try:
        base = {"race": race, "race_name": overview.name(), "year": year,
                "race_class": race_class(overview) or "unknown"}
        stages = [] if overview.is_one_day_race() else overview.stages("stage_url")
    except _PAGE_ERRORS as exc:
        return _unparsed(url, exc, unparsed)
    if not stages:
        stage = _page(pages, Stage, f"{url}/result", missing)
        return _stage_rows(stage, {**base, "kind": "one_day", "stage": None}, unparsed) if stage else []
    rows: list[dict[str, object]] = []
    for number, entry in enumerate(stages):
        stage = _page(pages, Stage, entry["stage_url"], missing)
        if stage is None:
            continue
        slug = entry["stage_url"].rstrip("/").split("/")[-1]
        rows += _stage_rows(stage, {**base, "kind": "stage", "stage": slug}, unparsed)
        if number == len(stages) - 1:
            gc = {**base, "kind": "gc", "stage": None, "date": _date(stage), "time_trial": False}
            try:
                standings = stage.gc("rider_url", "rider_name", "team_name", "rank", "nationality")
                if not standings:
                    raise ExpectedParsingError("no GC table on the final stage's page")
            except _PAGE_ERRORS as exc:
                standings = _unparsed(f"{entry['stage_url']} (GC)", exc, unparsed)
            rows += [row for r in standings if (row := _row(gc, r, None)) is not None]
    return rows


def _stage_rows(stage: Stage, base: dict[str, object], unparsed: list[str]) -> list[dict[str, object]]:
    """Rows of a one-day result or stage page; team time trials are skipped (the rank is the team's)."""
    try:
        kind = stage.stage_type()
        if kind == "TTT":
            log.info("%s is a team time trial: skipped", stage.relative_url())
            return []
        parsed = stage.results("rider_url", "rider_name", "team_name", "rank", "status", "nationality")
    except _PAGE_ERRORS as exc:
        return _unparsed(stage.relative_url(), exc, unparsed)
    base = {**base, "date": _date(stage), "time_trial": kind == "ITT"}
    return [row for r in parsed if (row := _row(base, r, str(r.get("status") or "DF").strip())) is not None]


def _row(base: dict[str, object], parsed: dict[str, object], status: str | None) -> dict[str, object] | None:
    """One package result row → a results row (plus ``_name``/``_nationality`` for the riders table).

    Status: DF with a rank is finished; DNF/DNS/OTL/DSQ as such; a struck-through rank (the package gives
    the number as the status, or no rank in a GC) is DSQ; anything else (e.g. NR) is skipped."""
    rank = parsed.get("rank")
    rank = int(rank) if isinstance(rank, int | str) and str(rank).strip().isdigit() else None
    if status is None:  # GC rows carry no status
        status = "DF" if rank is not None else "DSQ"
    if status == "DF":
        status = "finished"
    elif status.isdigit():
        status, rank = "DSQ", None
    elif status not in ("DNF", "DNS", "OTL", "DSQ"):
        return None
    slug = str(parsed["rider_url"]).rstrip("/").split("/")[-1]
    return {**base, "rider": slug, "rank": rank if status == "finished" else None, "status": status,
            "team": (str(parsed.get("team_name") or "").strip() or None),
            "_name": display_name(str(parsed.get("rider_name") or slug), slug),
            "_nationality": parsed.get("nationality") or None}


def rider_profile(slug: str, html: str) -> dict[str, object] | None:
    """A rider page → an observation; a field the page does not parse to is left empty."""
    try:
        rider = Rider(f"rider/{slug}", html=html, update_html=False)
    except ValueError:
        return None
    name, nationality, born = _safe(rider.name), _safe(rider.nationality), _safe(rider.birthdate)
    points = _safe(rider.points_per_speciality) or {}
    teams = _safe(lambda: rider.teams_history("season", "team_name")) or []
    birth_date = pl.Series([born]).str.strptime(pl.Date, "%Y-%m-%d", strict=False)[0] if born else None
    latest: dict[str, Any] = max(teams, key=lambda t: t.get("season") or 0, default={})
    return _observation(rider=slug, name=name, nationality=nationality, birth_date=birth_date,
                        team=latest.get("team_name"),
                        **{column: points.get(key) for key, column in _POINT_KEYS.items()})


def _observation(**values: object) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(OBSERVATION_SCHEMA)
    row.update(values, source="pcs_scrape")
    if row["birth_date"] is not None:
        row["birth_year"] = row["birth_date"].year  # type: ignore[attr-defined]
    if isinstance(row["nationality"], str):
        row["nationality"] = row["nationality"].upper() if len(row["nationality"]) == 2 else None
    return row


def _page(pages: PageSource, kind: type[Page], url: str, missing: list[str]) -> Page | None:
    """The parsed page at ``url``; None (and ``url`` noted as missing) when there is no such page."""
    html = pages.get(url)
    if html:
        try:
            return kind(url, html=html, update_html=False)
        except ValueError:  # the package rejects "Page not found" pages
            pass
    log.info("no page at %s: skipped", url)
    missing.append(url)
    return None


def _unparsed(url: str, exc: Exception, unparsed: list[str]) -> list[Any]:
    log.warning("could not parse %s (%s: %s): skipped", url, type(exc).__name__, exc)
    unparsed.append(url)
    return []


def _date(stage: Stage) -> date | None:
    text = _safe(stage.date)
    return pl.Series([text]).str.strptime(pl.Date, "%Y-%m-%d", strict=False)[0] if text else None


def _safe(parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except _PARSE_ERRORS as exc:
        log.debug("parse failed: %s", exc)
        return None
