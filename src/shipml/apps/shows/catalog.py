"""The show catalog: normalized titles, bulk upsert, typo-tolerant search and resolving typed titles.

Search runs on an in-memory index of normalized titles (character trigrams plus a sorted list of word
starts for prefixes), rebuilt when the catalog changes (checked per call with ``max(id), count(*)``);
the top candidates are re-scored with difflib. Result fields are read from the database, so metadata
filled in later (enrichment) shows up without a rebuild.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import func, insert, select, update

from shipml.apps.shows.tables import SHOW_SOURCES, Show
from shipml.apps.shows.titles import RESOLVE_THRESHOLD, normalize, similarity
from shipml.core import db
from shipml.core.errors import InvalidInput
from shipml.core.tables import utcnow
from shipml.settings import get_settings

MAX_TITLE_LENGTH = 200
SHOW_COLUMNS = ("external_id", "title", "year", "genres", "description", "poster_url")
_CANDIDATES = 60

def _trigrams(norm: str) -> set[str]:
    padded = f"  {norm} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


@dataclass
class _Index:
    stamp: tuple[int, int]
    ids: list[int] = field(default_factory=list)
    norms: list[str] = field(default_factory=list)
    folded: list[str] = field(default_factory=list)  # raw title, casefolded: breaks ties between equal norms
    gram_counts: list[int] = field(default_factory=list)
    postings: dict[str, list[int]] = field(default_factory=dict)
    starts: list[tuple[str, int]] = field(default_factory=list)  # (title from a word start on, position)


_lock = threading.Lock()
_indexes: dict[str, _Index] = {}


def _stamp() -> tuple[int, int]:
    with db.session() as s:
        top, n = s.execute(select(func.max(Show.id), func.count(Show.id))).one()
    return int(top or 0), int(n)


def _index() -> _Index:
    """The index for the current database, rebuilt when shows were added since it was built."""
    url, stamp = get_settings().db_url, _stamp()
    with _lock:
        cached = _indexes.get(url)
        if cached is not None and cached.stamp == stamp:
            return cached
        with db.session() as s:
            rows = s.execute(select(Show.id, Show.norm_title, Show.title).order_by(Show.id)).all()
        index = _Index(stamp=stamp)
        for pos, (show_id, norm, title) in enumerate(rows):
            index.ids.append(show_id)
            index.norms.append(norm)
            index.folded.append(title.casefold())
            grams = _trigrams(norm)
            index.gram_counts.append(len(grams))
            for gram in grams:
                index.postings.setdefault(gram, []).append(pos)
            index.starts.extend((norm[m.start() :], pos) for m in re.finditer(r"\S+", norm))
        index.starts.sort()
        _indexes[url] = index
        return index


def _invalidate() -> None:
    with _lock:
        _indexes.pop(get_settings().db_url, None)


@dataclass(frozen=True)
class _Hit:
    pos: int
    score: float  # ranking score, prefix matches boosted (for autocomplete)
    similarity: float  # whole-title similarity (what resolving a typed title relies on)


def _rank(query: str, limit: int) -> tuple[_Index, list[_Hit]]:
    """Candidates by trigram overlap plus titles with a word starting with the query, scored by difflib."""
    index, q = _index(), normalize(query)
    if not q or not index.ids:
        return index, []
    q_grams = _trigrams(q)
    overlap: Counter[int] = Counter()
    for gram in q_grams:
        overlap.update(index.postings.get(gram, ()))
    candidates = {
        pos
        for pos, _ in sorted(
            overlap.items(), key=lambda kv: -kv[1] / (len(q_grams) + index.gram_counts[kv[0]] - kv[1])
        )[:_CANDIDATES]
    }
    prefixed: dict[int, bool] = {}  # position -> whole title starts with the query (else: a later word)
    at = bisect_left(index.starts, (q, -1))
    while at < len(index.starts) and index.starts[at][0].startswith(q) and len(prefixed) < 4 * _CANDIDATES:
        text, pos = index.starts[at]
        prefixed[pos] = prefixed.get(pos, False) or text == index.norms[pos]
        at += 1
    folded_query = query.strip().casefold()
    hits = []
    for pos in candidates | prefixed.keys():
        norm = index.norms[pos]
        ratio = similarity(q, norm)
        score = ratio
        if pos in prefixed and norm != q:
            coverage = len(q) / len(norm)
            score = max(score, (0.8 if prefixed[pos] else 0.7) + 0.19 * coverage)
        if norm == q and index.folded[pos] != folded_query:
            score = 0.999  # the exact raw title beats another title with the same normal form
        hits.append(_Hit(pos, round(score, 4), round(ratio, 4)))
    hits.sort(key=lambda h: (-h.score, len(index.norms[h.pos]), index.norms[h.pos], h.pos))
    return index, hits[:limit]


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


def _results(index: _Index, hits: list[_Hit]) -> list[dict[str, Any]]:
    shows = get_shows(index.ids[h.pos] for h in hits)
    keys = ("id", "title", "year", "genres", "poster_url", "verified")
    out = []
    for hit in hits:
        show = shows.get(index.ids[hit.pos])
        if show is not None:  # deleted since the index was built
            out.append({**{k: show[k] for k in keys}, "score": hit.score})
    return out


def search(q: str, limit: int = 10) -> list[dict[str, Any]]:
    """Shows whose title matches ``q``, best first: exact title, then title prefixes, then close titles
    (typos included). Each has id, title, year, genres, poster_url, verified and score (0–1)."""
    if limit < 1:
        return []
    index, hits = _rank(q, limit)
    return _results(index, hits)


@dataclass(frozen=True)
class Resolved:
    """Typed titles sorted out: shows found (each with the ``query`` it answers), titles nobody knows,
    and for each unknown title the closest shows (to offer "did you mean")."""

    found: list[dict[str, Any]]
    unknown: list[str]
    suggestions: dict[str, list[dict[str, Any]]]


def resolve(titles: list[str]) -> Resolved:
    """Match typed titles to shows: a title resolves to its best hit when their whole normalized titles
    are at least ``RESOLVE_THRESHOLD`` similar (a prefix alone is not enough: "Friends" must not become
    "Friends from College"). Blank titles are ignored; a show found twice is listed once."""
    found: list[dict[str, Any]] = []
    unknown: list[str] = []
    suggestions: dict[str, list[dict[str, Any]]] = {}
    seen: set[int] = set()
    for raw in titles:
        title = raw.strip()
        if not normalize(title):
            continue
        index, hits = _rank(title, 20)
        best = max(hits, key=lambda h: (h.similarity, h.score), default=None)
        if best is not None and best.similarity >= RESOLVE_THRESHOLD:
            show_id = index.ids[best.pos]
            if show_id not in seen:
                seen.add(show_id)
                found.extend({**r, "query": title} for r in _results(index, [best]))
        elif title not in suggestions:
            unknown.append(title)
            suggestions[title] = _results(index, hits[:3])
    return Resolved(found, unknown, suggestions)


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
    _invalidate()
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
    _invalidate()
    return len(rows)


def show_ids(source: str) -> dict[str, int]:
    """External id -> show id for every show of one source."""
    with db.session() as s:
        rows = s.execute(select(Show.external_id, Show.id).where(Show.source == source)).tuples().all()
    return {external_id: show_id for external_id, show_id in rows if external_id is not None}


def count() -> int:
    """The number of shows in the catalog."""
    return _stamp()[1]
