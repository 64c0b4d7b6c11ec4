"""The show catalog: normalized titles, bulk upsert, typo-tolerant search and resolving typed titles.

Search and resolve rank candidates from an in-memory title index (:mod:`index`) and apply the platform's one
matching policy (:mod:`shipml.core.matching`, via :mod:`titles`): a live suggestion contains the typed text or a
near spelling of it; a typed title resolves only to a title at the cutoff; a real (verified) title that resolves
beats an unverified one; the page's label "Title (2006)" reads as that title of that year. Result fields are
read from the database, so metadata filled in later (enrichment) shows up without a rebuild.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import delete, insert, select, update

from shipml.apps.shows import index as title_index
from shipml.apps.shows.tables import SHOW_SOURCES, Show, ShowRating
from shipml.apps.shows.titles import (
    HINT_THRESHOLD,
    RESOLVE_THRESHOLD,
    SUGGEST_THRESHOLD,
    normalize,
    search_scores,
    split_label,
)
from shipml.core import db
from shipml.core.errors import InvalidInput
from shipml.core.readcache import Kept, fresh, recent
from shipml.core.tables import utcnow
from shipml.settings import get_settings

MAX_TITLE_LENGTH = 200
SHOW_COLUMNS = ("external_id", "title", "year", "genres", "description", "poster_url")
_RANKED = 300  # candidates ranked before the matching policy filters them

Hit = title_index.Hit


def _as_dict(show: Show) -> dict[str, Any]:
    return {
        "id": show.id,
        "title": show.title,
        "year": show.year,
        "genres": show.genres,
        "description": show.description,
        "poster_url": show.poster_url,
        "verified": show.verified,
        "source": show.source,
    }


def get_shows(ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The shows with these ids (unknown ids are absent from the answer)."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return {}
    found: dict[int, dict[str, Any]] = {}
    with db.session() as s:
        for chunk in range(0, len(wanted), 1000):
            for show in s.scalars(select(Show).where(Show.id.in_(wanted[chunk : chunk + 1000]))):
                found[show.id] = _as_dict(show)
    return found


def _results(index: title_index.Index, hits: list[Hit]) -> list[dict[str, Any]]:
    shows = get_shows(index.ids[h.pos] for h in hits)
    keys = ("id", "title", "year", "genres", "poster_url", "verified")
    out = []
    for hit in hits:
        show = shows.get(index.ids[hit.pos])
        if show is not None:  # deleted since the index was built
            out.append({**{k: show[k] for k in keys}, "score": hit.score})
    return out


def _passing(index: title_index.Index, query: str, hits: list[Hit], cutoff: float) -> list[Hit]:
    """The hits that contain ``query`` or a near spelling of it (the platform's search rule at ``cutoff``)."""
    scores = search_scores(normalize(query), [index.norms[h.pos] for h in hits], cutoff)
    return [h for i, h in enumerate(hits) if i in scores]


def _year_first(results: list[dict[str, Any]], year: int | None) -> list[dict[str, Any]]:
    return sorted(results, key=lambda r: r["year"] != year) if year is not None else results


def search(q: str, limit: int = 10) -> list[dict[str, Any]]:
    """Shows whose title contains ``q`` or a near spelling of it, best first: exact title, then title
    prefixes, then close titles (typos included); nothing unrelated, so no match is an empty list. "Title
    (2006)" finds that title, that year's first. Each has id, title, year, genres, poster_url, verified and
    score (0–1)."""
    if limit < 1:
        return []
    title, year = _label(q)
    index, hits = title_index.rank(title, _RANKED)
    hits = _passing(index, title, hits, SUGGEST_THRESHOLD)
    if year is None:
        return _results(index, hits[:limit])
    return _year_first(_results(index, hits[: limit + 10]), year)[:limit]


@dataclass(frozen=True)
class Resolved:
    """Typed titles sorted out: shows found (each with the ``query`` it answers), titles nobody knows,
    and for each unknown title the closest shows (to offer "did you mean")."""

    found: list[dict[str, Any]]
    unknown: list[str]
    suggestions: dict[str, list[dict[str, Any]]]


def _label(typed: str) -> tuple[str, int | None]:
    """The page's label "Title (2006)" as (title, year); a title that itself ends in "(2006)" is taken as it is."""
    title, year = split_label(typed)
    if year is not None:
        index, hits = title_index.rank(typed, 5)
        if any(index.norms[h.pos] == normalize(typed) for h in hits):
            return typed, None
    return title, year


def _resolve_one(typed: str) -> tuple[title_index.Index, Hit | None, list[Hit]]:
    """The show ``typed`` resolves to (if any), with the ranked hits. A real title beats an unverified one, then
    the year of a label "Title (2006)" decides, then the closest spelling."""
    title, year = _label(typed)
    index, hits = title_index.rank(title, 20)
    close = [h for h in hits if h.similarity >= RESOLVE_THRESHOLD]
    if not close:
        return index, None, hits
    years = {k: v["year"] for k, v in get_shows(index.ids[h.pos] for h in close).items()} if year else {}
    best = max(close, key=lambda h: (index.verified[h.pos], years.get(index.ids[h.pos]) == year,
                                     h.similarity, h.score))
    return index, best, hits


# a typed title → (the show it resolves to, or None with the closest shows to suggest), per database and catalog
# stamp (a new, removed, verified or enriched show is a new stamp): people type the same popular titles again and
# again, and a title is matched once, not on every request
_Resolution = tuple[dict[str, Any] | None, list[dict[str, Any]]]
_resolutions: Kept[tuple[str, Any, str], _Resolution] = Kept(8192)


def resolve(titles: list[str]) -> Resolved:
    """Match typed titles to shows: a title resolves to its best hit when their whole normalized titles
    are at least ``RESOLVE_THRESHOLD`` similar (a prefix alone is not enough: "Friends" must not become
    "Friends from College"). Blank titles are ignored; a show found twice is listed once. An unknown title's
    suggestions are the closest titles that pass the platform's looser "did you mean" cutoff (maybe none)."""
    db_url, stamp = get_settings().db_url, recent("shows.catalog", title_index.stamp)
    resolved = _collect(titles, lambda title: _resolved((db_url, stamp, title)))
    assert resolved is not None  # every title is matched
    return resolved


def resolve_kept(titles: list[str]) -> Resolved | None:
    """:func:`resolve` from what is already kept, looking nothing up (so that a request resolves popular titles on
    the event loop, without a thread hop): None when the catalog stamp is not known fresh or a title was not
    resolved yet."""
    stamp = fresh("shows.catalog")
    if stamp is None:
        return None
    db_url = get_settings().db_url
    return _collect(titles, lambda title: _resolutions.get((db_url, stamp, title)))


def _collect(titles: list[str], resolution: Callable[[str], _Resolution | None]) -> Resolved | None:
    """The typed titles sorted into found and unknown; None when ``resolution`` has no answer for one of them."""
    found: list[dict[str, Any]] = []
    unknown: list[str] = []
    suggestions: dict[str, list[dict[str, Any]]] = {}
    seen: set[int] = set()
    for raw in titles:
        title = raw.strip()
        if not normalize(title):
            continue
        answer = resolution(title)
        if answer is None:
            return None
        show, hints = answer
        if show is not None:
            if show["id"] not in seen:
                seen.add(show["id"])
                found.append({**show, "query": title})
        elif title not in suggestions:
            unknown.append(title)
            suggestions[title] = hints
    return Resolved(found, unknown, suggestions)


def _resolved(key: tuple[str, Any, str]) -> _Resolution:
    kept = _resolutions.get(key)
    if kept is None:
        kept = _match(key[2])
        _resolutions.put(key, kept)
    return kept


def _match(title: str) -> _Resolution:
    index, best, hits = _resolve_one(title)
    if best is not None:
        shows = _results(index, [best])
        if shows:
            return shows[0], []
    name, year = split_label(title)
    hints = _passing(index, name, hits, HINT_THRESHOLD)
    return None, _year_first(_results(index, hints[:3]), year)


def add_unverified(title: str) -> dict[str, Any]:
    """Add a title no source knows as a new unverified show (source "user"), as the original app did.
    A title with the same normal form as an existing show returns that show instead."""
    title = " ".join(title.split())
    norm = normalize(title)
    if not norm or len(title) > MAX_TITLE_LENGTH:
        raise InvalidInput(f"a show title needs 1-{MAX_TITLE_LENGTH} characters with a letter or digit")
    with db.session() as s:
        existing = s.scalars(select(Show).where(Show.norm_title == norm).order_by(Show.id)).first()
        if existing is not None:
            return _as_dict(existing)
        show = Show(title=title, norm_title=norm, verified=False, source="user", created_at=utcnow())
        s.add(show)
        s.flush()
        added = _as_dict(show)
    title_index.invalidate()
    return added


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def import_shows(frame: pl.DataFrame, source: str) -> int:
    """Upsert shows by (source, external_id) in bulk; returns the number of rows written (new + updated).

    ``frame`` has the columns external_id and title, optionally year, genres, description, poster_url.
    A null metadata value never wipes a stored one. Imported shows are verified.
    """
    if source not in SHOW_SOURCES:
        raise InvalidInput(f"unknown show source {source!r}; expected one of {', '.join(SHOW_SOURCES)}")
    missing = {"external_id", "title"} - set(frame.columns)
    if missing:
        raise InvalidInput(f"show frame lacks columns {sorted(missing)}")
    frame = frame.select(
        pl.col("external_id").cast(pl.Utf8),
        *(pl.col(c) if c in frame.columns else pl.lit(None).alias(c) for c in SHOW_COLUMNS[1:]),
    ).unique("external_id", keep="first", maintain_order=True)
    rows = [{k: _clean(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]
    rows = [r for r in rows if r["external_id"] and r["title"] and normalize(r["title"])]
    for r in rows:
        r["norm_title"] = normalize(r["title"])
        r["year"] = int(r["year"]) if r["year"] is not None else None
    now, known = utcnow(), show_ids(source)
    with db.session() as s:
        new = [
            {**r, "source": source, "verified": True, "created_at": now} for r in rows if r["external_id"] not in known
        ]
        changed = [
            {"id": known[r["external_id"]], **{k: v for k, v in r.items() if v is not None and k != "external_id"}}
            for r in rows
            if r["external_id"] in known
        ]
        if new:
            s.execute(insert(Show), new)
        if changed:
            s.execute(update(Show), changed)
    title_index.invalidate()
    return len(rows)


def remove_source(source: str) -> int:
    """Delete every show of one source and every rating of those shows (how a real source replaces the
    synthetic demo); returns how many shows were removed."""
    with db.session() as s:
        doomed = select(Show.id).where(Show.source == source)
        removed = len(s.scalars(doomed).all())
        s.execute(delete(ShowRating).where(ShowRating.show_id.in_(doomed.scalar_subquery())))
        s.execute(delete(Show).where(Show.source == source))
    title_index.invalidate()
    return removed


def show_ids(source: str) -> dict[str, int]:
    """External id -> show id for every show of one source."""
    with db.session() as s:
        rows = s.execute(select(Show.external_id, Show.id).where(Show.source == source)).all()
    return {external_id: show_id for external_id, show_id in rows if external_id is not None}


def count() -> int:
    """The number of shows in the catalog."""
    return title_index.stamp()[1]
