"""The catalog's in-memory title index: character trigrams of the normalized titles plus a sorted list of word
starts (for prefixes), rebuilt when the catalog changes (checked per call with ``max(id), count(*)``). Candidates
are re-scored with the platform's measure; what is shown or resolved is decided in :mod:`catalog`."""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select

from shipml.apps.shows.tables import Show
from shipml.apps.shows.titles import RESOLVE_THRESHOLD, normalize, similarity
from shipml.core import db
from shipml.settings import get_settings

_CANDIDATES = 60


def _trigrams(norm: str) -> set[str]:
    padded = f"  {norm} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


@dataclass
class Index:
    stamp: tuple[int, int, int, str]
    ids: list[int] = field(default_factory=list)
    norms: list[str] = field(default_factory=list)
    folded: list[str] = field(default_factory=list)  # raw title, casefolded: breaks ties between equal norms
    verified: list[bool] = field(default_factory=list)
    gram_counts: list[int] = field(default_factory=list)
    postings: dict[str, list[int]] = field(default_factory=dict)
    starts: list[tuple[str, int]] = field(default_factory=list)  # (title from a word start on, position)


_lock = threading.Lock()
_indexes: dict[str, Index] = {}


def stamp() -> tuple[int, int, int, str]:
    """(largest show id, number of shows, number verified, last enrichment): changes whenever shows are added or
    removed, a title a user added is verified, or metadata is filled in (by enrichment, maybe in another process).
    Cached search answers are keyed by it too."""
    with db.session() as s:
        top, n, verified, enriched = s.execute(
            select(func.max(Show.id), func.count(Show.id), func.count(Show.id).filter(Show.verified),
                   func.max(Show.enriched_at))).one()
    return int(top or 0), int(n), int(verified), str(enriched)


def current() -> Index:
    """The index for the current database, rebuilt when the catalog changed (see :func:`stamp`)."""
    url, now = get_settings().db_url, stamp()
    with _lock:
        cached = _indexes.get(url)
        if cached is not None and cached.stamp == now:
            return cached
        with db.session() as s:
            rows = s.execute(select(Show.id, Show.norm_title, Show.title, Show.verified).order_by(Show.id)).all()
        index = Index(stamp=now)
        for pos, (show_id, norm, title, verified) in enumerate(rows):
            index.ids.append(show_id)
            index.norms.append(norm)
            index.folded.append(title.casefold())
            index.verified.append(bool(verified))
            grams = _trigrams(norm)
            index.gram_counts.append(len(grams))
            for gram in grams:
                index.postings.setdefault(gram, []).append(pos)
            index.starts.extend((norm[m.start() :], pos) for m in re.finditer(r"\S+", norm))
        index.starts.sort()
        _indexes[url] = index
        return index


def invalidate() -> None:
    with _lock:
        _indexes.pop(get_settings().db_url, None)


@dataclass(frozen=True)
class Hit:
    pos: int
    score: float  # ranking score, prefix matches boosted (for autocomplete)
    similarity: float  # whole-title similarity (what resolving a typed title relies on)


def rank(query: str, limit: int) -> tuple[Index, list[Hit]]:
    """Candidates by trigram overlap plus titles with a word starting with the query, best first. A title no
    source knows (unverified) comes after every real title that the query would resolve to."""
    index, q = current(), normalize(query)
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
        hits.append(Hit(pos, round(score, 4), round(ratio, 4)))
    real_match = any(index.verified[h.pos] and h.similarity >= RESOLVE_THRESHOLD for h in hits)
    hits.sort(key=lambda h: (real_match and not index.verified[h.pos], -h.score, len(index.norms[h.pos]),
                             index.norms[h.pos], h.pos))
    return index, hits[:limit]
