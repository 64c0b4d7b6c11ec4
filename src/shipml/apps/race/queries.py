"""What the API answers, from the published standings (:mod:`.publish`): pages, runners, search, progress, stats."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np

from shipml.core import matching
from shipml.core.errors import InvalidInput, NotFound

from . import edition, trail
from .definition import Race
from .namesearch import NameIndex, name_index
from .processor import STATUS_NAMES
from .publish import LiveView, current
from .standings import Standing


def iso(seconds: float | None) -> str | None:
    if seconds is None or not np.isfinite(seconds):
        return None
    return datetime.fromtimestamp(float(seconds), tz=UTC).isoformat()


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def view_of(race: Race) -> LiveView:
    view = current(race)
    if view is None:
        raise NotFound(f"race {race.name} has no standings yet: is the race processor running "
                       "(`shipml service race processor`, started by `shipml up`)?")
    return view


def now_of(race: Race) -> float:
    return float(race.race_time(time.time()))


def line(race: Race, s: Standing) -> dict[str, Any]:
    """One runner's leaderboard line, for people (times in seconds; clock times ISO)."""
    p = race.participants
    start = float(race.start_t[s.runner])
    return {"bib": race.bibs[s.runner], "name": p["name"][s.runner], "category": s.category, "rank": s.rank,
            "category_rank": s.category_rank, "status": s.status, "distance_m": round(s.distance_m, 1),
            "gap_m": _round(s.gap_m), "gap_s": _round(s.gap_s), "pace_s_per_km": _round(s.pace_s_per_km),
            "finish_s": _round(s.finish_s), "predicted_finish_s": _round(s.predicted_finish_s),
            "predicted_finish_at": iso(start + s.predicted_finish_s) if s.predicted_finish_s else None,
            "last_checkpoint": s.last_checkpoint, "last_seen_age_s": _round(s.last_seen_age_s)}


def category_index(race: Race, category: str | None) -> int | None:
    if category is None or category == "":
        return None
    if category not in race.category_names:
        raise InvalidInput(f"unknown category {category!r}; categories: {', '.join(race.category_names)}")
    return race.category_names.index(category)


def leaderboard(race: Race, category: str | None, limit: int, offset: int) -> dict[str, Any]:
    view = view_of(race)
    c = category_index(race, category)
    members = view.standings.order if c is None else view.standings.category_order[c]
    rows = view.standings.page(limit, offset, c, now=now_of(race))
    return {"race": race.name, "category": category, "version": view.meta["version"], "total": int(members.size),
            "ranked": view.meta["ranked"] if c is None else int((view.standings.rank[members] > 0).sum()),
            "offset": offset, "simulated": race.definition.simulated, "clock": iso(view.meta["clock"]),
            "rows": [line(race, s) for s in rows]}


@lru_cache(maxsize=4)
def _names(race: Race) -> NameIndex:
    return name_index(race.participants["name"])


def search(race: Race, q: str, limit: int) -> dict[str, Any]:
    """Runners by bib (exact) or name (typos forgiven): exact bib, then names with words starting with the typed
    words, then close names and close words of names (the platform's one matcher and cutoff). Every step examines
    a bounded number of candidates (:mod:`.namesearch`), never every one of a million runners."""
    q = q.strip()
    if not q:
        raise InvalidInput("type a bib or part of a name")
    found: list[int] = []
    if q in race.bib_index:  # a bib is exact: that runner alone (no scan of a million names)
        found.append(race.bib_index[q])
        limit = 1
    index = _names(race)
    key = matching.normalize(q)
    if key and len(found) < limit:
        found += [i for i in index.containing(key, limit) if i not in found]
    if key and len(found) < limit:
        found += [i for i in index.closest(key, limit) if i not in found]
    if key and len(found) < limit:
        found += [i for i in index.with_close_word(key, limit) if i not in found]
    found = found[:limit]
    view = current(race)
    if view is None:
        rows = [{"bib": race.bibs[i], "name": race.participants["name"][i], "status": "not_started"} for i in found]
    else:
        rows = [line(race, s) for s in view.standings.lines(found, now=now_of(race))]
    return {"query": q, "rows": rows}


def runner(race: Race, bib: str, track: bool = True) -> dict[str, Any]:
    """One runner: their line, splits, last position and recent track, all from the published arrays (an unknown
    bib is a 404 before any other work)."""
    i = race.bib_index.get(bib)
    if i is None:
        raise NotFound(f"no runner with bib {bib!r} in race {race.name}")
    view = view_of(race)
    p = view.processor
    body = line(race, view.standings.lines([i], now=now_of(race))[0])
    start = float(race.start_t[i])
    splits = []
    for k, checkpoint in enumerate(race.course.checkpoints):
        value = float(p.splits_s[i, k])
        splits.append({"checkpoint": checkpoint.name, "distance_m": round(checkpoint.distance_m, 1),
                       "time_s": _round(value) if np.isfinite(value) else None,
                       "at": iso(start + value) if np.isfinite(value) else None})
    side = view.runner_side(i)  # position and trail: the runner's side record of this version
    position = None
    if np.isfinite(side["last_x"]):
        lat, lon = race.course.unproject([side["last_x"]], [side["last_y"]])
        on_lat, on_lon = race.course.position_at([p.progress_m[i]])
        position = {"lat": float(lat[0]), "lon": float(lon[0]), "course_lat": float(on_lat[0]),
                    "course_lon": float(on_lon[0]), "at": iso(float(p.last_t[i]))}
    body.update(start=iso(start), splits=splits, position=position, device=race.participants["device"][i],
                course_length_m=round(race.course.length_m, 1))
    if track:
        since, along = trail.recent(side["trail_t"], side["trail_m"], int(side["trail_head"]))
        lat, lon = race.course.position_at(along)
        body["track"] = [{"t": iso(start + s), "lat": round(float(a), 7), "lon": round(float(o), 7)}
                         for s, a, o in zip(since.tolist(), lat.tolist(), lon.tolist(), strict=True)]
    return body


@lru_cache(maxsize=8)
def _history(path: str, stamp: float) -> list[dict[str, Any]]:
    with open(path) as lines:
        return [json.loads(row) for row in lines if row.strip()]


def progress(race: Race, top: int) -> dict[str, Any]:
    """The distance of today's leaders at every sampled time, from the processor's history."""
    view = view_of(race)
    path = race.folder / "history.jsonl"
    history = _history(str(path), path.stat().st_mtime) if path.is_file() else []
    leaders = [int(r) for r in view.standings.order[:top] if view.standings.rank[r] > 0]
    series = []
    for r in leaders:
        points = [{"t": iso(h["t"]), "distance_m": d["distance_m"]} for h in history for d in h["leaders"]
                  if d["runner"] == r]
        points.append({"t": iso(view.meta["clock"]), "distance_m": round(float(view.processor.progress_m[r]), 1)})
        series.append({"bib": race.bibs[r], "name": race.participants["name"][r], "points": points})
    return {"race": race.name, "series": series}


_STATUS_CACHE: dict[tuple[str, int], dict[str, int]] = {}


def stats(race: Race) -> dict[str, Any]:
    view = view_of(race)
    p = view.processor
    key = (race.name, p.version)
    if key not in _STATUS_CACHE:
        codes = np.bincount(np.asarray(p.status), minlength=len(STATUS_NAMES))
        running = np.asarray(p.status) == 1
        stale = int((running & (now_of(race) - np.asarray(p.last_t) > p.rules.stale_after_s)).sum())
        counts = {name: int(n) for name, n in zip(STATUS_NAMES, codes.tolist(), strict=True)}
        counts["running"] -= stale
        counts["stale"] = stale
        _STATUS_CACHE.clear()
        _STATUS_CACHE[key] = counts
    meta = view.meta
    return {"race": race.name, "simulated": race.definition.simulated, "version": meta["version"],
            "clock": iso(meta["clock"]), "published_at": iso(meta["published_at"]),
            "published_age_s": round(time.time() - meta["published_at"], 2), "pings_per_s": meta.get("pings_per_s"),
            "lag_p99_s": meta.get("lag_p99_s"), "accepted": meta["accepted"], "rejected": meta["rejected"],
            "ignored": meta["ignored"], "runners": race.runners, "status": _STATUS_CACHE[key],
            "edition": edition_of(race)}


def edition_of(race: Race, now: float | None = None) -> dict[str, Any] | None:
    """The demo race's edition schedule as the page shows it (None for any other race)."""
    plan = edition.demo_schedule(race)
    if plan is None:
        return None
    now = time.time() if now is None else now
    return {"gun": iso(plan.gun), "ends": iso(plan.ends), "next_gun": iso(plan.next_gun),
            "gun_in_s": round(plan.gun - now, 1), "ends_in_s": round(plan.ends - now, 1),
            "ending": plan.notice_due(now), "speedup": plan.speedup}
