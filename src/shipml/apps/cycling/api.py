"""The cycling API: riders, similar riders (with filters and honest confidence), similar races and teams,
a 2-D map of the embedding, and when the data was last updated. The platform adds ``status`` and the admin
``ingest``, ``train`` and ``eval`` routes from the app's declaration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Annotated, Any

import numpy as np
import polars as pl
from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from shipml.apps.cycling import data
from shipml.apps.cycling.model import SimilarityModel
from shipml.apps.cycling.schemas import (
    ChosenRider,
    LastUpdate,
    MapPoint,
    Neighbour,
    Rider,
    RiderList,
    RiderMap,
    SimilarRace,
    SimilarRaces,
    SimilarRequest,
    SimilarRiders,
    SimilarTeam,
    SimilarTeams,
)
from shipml.apps.cycling.tasks import MODEL
from shipml.core import datasets, matching, registry
from shipml.core.errors import InvalidInput, NotFound
from shipml.core.readcache import ReadCache, fresh, recent
from shipml.core.schemas import ModelRef
from shipml.core.versioned import versioned

router = APIRouter()
_answers = ReadCache()  # rendered answers by model version, riders snapshot and request


@dataclass(frozen=True)
class State:
    version: int
    model: SimilarityModel
    riders: pl.DataFrame  # one row per rider in the model, with age, results and confidence
    by_slug: dict[str, dict[str, Any]]
    by_name: dict[str, str]
    riders_path: str


def _age(birth_date: date | None, birth_year: int | None, today: date) -> int | None:
    if birth_date is not None:
        return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
    return today.year - birth_year if birth_year is not None else None


@lru_cache(maxsize=2)
def _state_for(version: int, model: SimilarityModel, riders_path: str) -> State:
    table = pl.read_parquet(riders_path)
    today = date.today()
    meta = {r["rider"]: r for r in table.iter_rows(named=True)}
    rows = []
    for slug in model.riders:
        info = meta.get(slug, {})
        confidence = model.confidence(slug)
        rows.append({
            "rider": slug, "name": info.get("name") or slug, "nationality": info.get("nationality"),
            "age": _age(info.get("birth_date"), info.get("birth_year"), today), "team": info.get("team"),
            "results": confidence["results"], "low_confidence": confidence["low_confidence"],
        })
    frame = pl.DataFrame(rows).sort("results", descending=True)
    by_slug = {r["rider"]: r for r in frame.iter_rows(named=True)}
    return State(version, model, frame, by_slug, {r["name"].lower(): r["rider"] for r in rows}, riders_path)


def _state() -> State:
    version, model = registry.champion(MODEL).require(SimilarityModel, app="cycling", missing="no cycling model yet")
    riders = recent(data.DATASET_RIDERS, lambda: datasets.require_latest(data.DATASET_RIDERS))
    return _state_for(version, model, str(riders.path))


def _resolve(state: State, rider: str) -> str:
    key = rider.strip()
    if key in state.by_slug:
        return key
    if key.lower() in state.by_name:
        return state.by_name[key.lower()]
    names = list(state.by_name)
    found = matching.search(key, names, limit=5)
    if found and found[0].score >= matching.CUTOFF and (len(found) == 1 or found[0].score > found[1].score):
        return state.by_name[found[0].choice]  # one clearly best spelling: "tadej pogacr" is Tadej Pogačar
    close = found or matching.search(key, names, limit=5, cutoff=matching.SUGGEST)
    suggestions = list(dict.fromkeys(state.by_name[m.choice] for m in close))[:5]
    hint = f"; did you mean: {', '.join(state.by_slug[s]['name'] for s in suggestions)}?" if suggestions else ""
    shown = rider if len(rider) <= 60 else rider[:57] + "…"
    raise NotFound(f"no rider '{shown}' with enough results{hint}",
                   details={"suggestions": [state.by_slug[s] for s in suggestions]})


@router.get("/riders")
def riders(q: Annotated[str | None, Query(max_length=200)] = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
           offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> RiderList:
    """Riders with an embedding: name, nationality, age, number of results, confidence; most results first."""
    state = _state()
    frame = state.riders
    if q:
        names = frame["name"].to_list()
        hits = matching.search(q, names, limit=len(names)) + matching.search(q, frame["rider"].to_list(),
                                                                             limit=len(names))
        order = list(dict.fromkeys(m.index for m in sorted(hits, key=lambda m: -m.score)))
        frame = frame[order] if order else frame.clear()
    return RiderList(total=frame.height, model_version=state.version,
                     riders=[Rider.model_validate(r) for r in frame.slice(offset, limit).iter_rows(named=True)])


def _similar_version() -> tuple[int, str] | None:
    """The served model's version and the riders snapshot, when both are known current (else None: looked up)."""
    served, riders = registry.champion(MODEL).get_loaded(), fresh(data.DATASET_RIDERS)
    return None if served is None or riders is None else (served[0], str(riders.path))


@router.post("/similar", response_model=SimilarRiders)
@versioned(_similar_version)  # the same body again is answered before routing (VersionedReads)
async def similar(request: SimilarRequest) -> Response:
    """The riders most similar to one, among those matching the age range and countries."""
    # the same request written otherwise (spacing, order of fields), for the model and riders known current, is
    # repeated on the loop: the thread hop cost more than the answer; anything else is worked out in a thread
    current = _similar_version()
    kept = None if current is None else _answers.kept(_similar_key(*current, request))
    return kept if kept is not None else await run_in_threadpool(_similar_answer, request)


def _similar_key(version: int, riders_path: str, request: SimilarRequest) -> tuple[Any, ...]:
    return ("similar", version, riders_path, request.model_dump_json())


def _similar_answer(request: SimilarRequest) -> Response:
    state = _state()
    return _answers.answer(_similar_key(state.version, state.riders_path, request), lambda: _similar(state, request))


def _similar(state: State, request: SimilarRequest) -> SimilarRiders:
    slug = _resolve(state, request.rider)
    frame = state.riders.filter(pl.col("rider") != slug)
    if request.age_min is not None:
        frame = frame.filter(pl.col("age") >= request.age_min)
    if request.age_max is not None:
        frame = frame.filter(pl.col("age") <= request.age_max)
    if request.countries:
        wanted = [c.upper() for c in request.countries]
        known = set(state.riders["nationality"].drop_nulls().to_list())
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise InvalidInput(f"no rider has the nationality {', '.join(unknown)}; known codes: "
                               f"{', '.join(sorted(known)) or 'none'}")
        frame = frame.filter(pl.col("nationality").is_in(wanted))
    me = ChosenRider.model_validate({**state.by_slug[slug], "confidence": state.model.confidence(slug)})
    if frame.height == 0:
        return SimilarRiders(rider=me, neighbours=[], model_version=state.version,
                             message="no rider matches these filters: widen the age range or add countries")
    found = state.model.similar_riders(slug, request.n, candidates=frame["rider"].to_list())
    neighbours = [Neighbour.model_validate({**state.by_slug[s], "similarity": round(float(sim), 4)})
                  for s, sim in found]
    message = None
    if me.low_confidence:
        message = ("low confidence: " + "; ".join(me.confidence.reasons) + " — these neighbours are a rough guess")
    return SimilarRiders(rider=me, neighbours=neighbours, model_version=state.version, message=message)


@router.get("/races")
def races() -> list[str]:
    """Every race slug in the model (all editions and stages of a race are one)."""
    return list(_state().model.races)


@router.get("/races/{race}/similar")
def similar_races(race: Annotated[str, Path(max_length=200)],
                  n: Annotated[int, Query(ge=1, le=50)] = 10) -> SimilarRaces:
    """Races whose riders do well in the same races (all editions and stages pooled)."""
    state = _state()
    if race not in state.model.races:
        close = [m.choice for m in matching.search(race, list(state.model.races), limit=5, cutoff=matching.SUGGEST)]
        raise NotFound(f"no race '{race}' in the model" + (f"; did you mean: {', '.join(close)}?" if close else ""))
    found = state.model.similar_races(race, n)
    return SimilarRaces(race=race, similar=[SimilarRace(race=r, similarity=round(float(s), 4)) for r, s in found])


@router.get("/teams/{team:path}/similar")
def similar_teams(team: Annotated[str, Path(max_length=200)],
                  n: Annotated[int, Query(ge=1, le=50)] = 10) -> SimilarTeams:
    """Teams whose riders are alike (mean of the riders' vectors, by each rider's latest team)."""
    found = _state().model.similar_teams(team, n)
    return SimilarTeams(team=team, similar=[SimilarTeam(team=t, similarity=round(float(s), 4)) for t, s in found])


@lru_cache(maxsize=2)
def _map_for(version: int, model: SimilarityModel) -> tuple[np.ndarray, float]:
    vectors = model.unit_rider_vectors
    dense = vectors.toarray() if hasattr(vectors, "toarray") else np.asarray(vectors)
    centred = dense - dense.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    explained = float((s[:2] ** 2).sum() / (s**2).sum()) if s.size else 0.0
    return centred @ vt[:2].T, explained


@router.get("/map")
def embedding_map() -> RiderMap:
    """Every rider's embedding projected to 2-D (PCA), for the map."""
    state = _state()
    xy, explained = _map_for(state.version, state.model)
    points = [MapPoint.model_validate({**state.by_slug[slug], "x": round(float(x), 5), "y": round(float(y), 5)})
              for slug, (x, y) in zip(state.model.riders, xy, strict=True)]
    return RiderMap(model_version=state.version, explained_variance=round(explained, 4), points=points)


@router.get("/last-update")
def last_update() -> LastUpdate:
    """The results dataset served (version, source, synthetic or real, latest race day) and the champion model."""
    snap = datasets.require_latest(data.DATASET_RESULTS)
    latest = snap.read().select(pl.col("date").max()).item()
    return LastUpdate.model_validate({**snap.describe(), "latest_result": latest,
                                      "model": ModelRef(name=MODEL, champion=registry.champion_version(MODEL))})
