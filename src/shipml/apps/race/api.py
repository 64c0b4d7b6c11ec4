"""The race API under ``/api/race``: races (admin definition), ingest (batch, OsmAnd, OwnTracks), leaderboard,
search, one runner, leaders' progress, live stats, the course."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import polars as pl
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError

from shipml.core.access import AdminDep, IsAdminDep
from shipml.core.errors import InvalidInput, TooManyRequests

from . import definition, ingest, policy, queries, rawlog
from .definition import NAME_PATTERN, RaceDefinition
from .schemas import (
    BatchReceipt,
    CourseMap,
    DnfMark,
    Leaderboard,
    LeadersProgress,
    LiveStats,
    RaceIn,
    RaceSummary,
    RunnerDetail,
    SearchHits,
)
from .settings import settings

router = APIRouter()
RaceName = Annotated[str, Path(pattern=NAME_PATTERN, description="the race's name")]
Bib = Annotated[str, Path(min_length=1, max_length=40)]


def _race(name: str) -> definition.Race:
    return definition.load(name)


INGEST_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "a gateway batch without the race's ingest key"},
    403: {"description": "a wrong ingest key"},
    507: {"description": "the race has used its raw-storage budget; nothing was stored"},
}


@router.get("/races", summary="race: every defined race")
def races(admin: IsAdminDep) -> list[RaceSummary]:
    return [_summary(_race(n), admin) for n in definition.race_names()]


def _summary(race: definition.Race, admin: bool) -> RaceSummary:
    """A race's summary; an admin also sees its ingest key and its raw-storage budget."""
    out = race.summary()
    if admin:
        out.update(ingest_key=race.definition.ingest_key, duration_h=race.definition.duration_h,
                   storage={"budget_bytes": policy.budget_bytes(race), "used_bytes": rawlog.usage.used(race.name)})
    return RaceSummary.model_validate(out)


@router.get("/races/{race}", summary="race: one race's definition (an admin also sees its ingest key)")
def one_race(race: RaceName, admin: IsAdminDep) -> RaceSummary:
    return _summary(_race(race), admin)


@router.put("/races/{race}", dependencies=[AdminDep], summary="race: define (or redefine) a race",
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                "schema": definition.body_schema()}}}})
async def define_race(race: RaceName, request: Request) -> RaceSummary:
    if race == "races":
        raise InvalidInput("'races' is not a race name")
    raw = await request.body()  # read here, after the admin check: no token, no parsing
    try:
        body = RaceIn.model_validate(ingest.decode_json(raw))
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None
    return await run_in_threadpool(_define, race, body)


def _define(race: str, body: RaceIn) -> RaceSummary:
    if (body.participants is None) == (body.participants_csv is None):
        raise InvalidInput("give the participants either as 'participants' (a list) or as 'participants_csv'")
    if body.participants is not None:
        people = definition.read_participants(pl.DataFrame([p.model_dump() for p in body.participants]))
    else:
        people = definition.read_participants(str(body.participants_csv).encode())
    try:
        d = RaceDefinition(name=race, **body.model_dump(exclude={"course", "participants", "participants_csv"}))
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    definition.define(d, body.course.text.encode(), people, course_suffix=f".{body.course.format}")
    return _summary(_race(race), admin=True)


@router.api_route("/races/{race}", methods=["DELETE", "PATCH", "POST"], include_in_schema=False)
def races_other_methods(race: str) -> None:
    """Starlette's 405 names the methods of the first route of a path only: this one names both."""
    raise HTTPException(405, "Method Not Allowed", headers={"Allow": "GET, PUT"})


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _gate(race: definition.Race, request: Request, *, key_required: bool) -> None:
    """The request-level part of the ingest policy, before the body is read: key, client rate, storage budget."""
    if not policy.trusted(race, request.headers, required=key_required):
        await policy.check_client(race, _client(request))
    policy.check_budget(race)


@router.post("/{race}/pings", summary="race: a batch of up to 10,000 pings from a gateway (needs the ingest key)",
             responses=INGEST_ERRORS,
             openapi_extra={"requestBody": {"required": True,
                                            "content": {"application/json": {"schema": ingest.batch_schema()}}}})
async def pings(race: RaceName, request: Request) -> BatchReceipt:
    r = _race(race)
    await _gate(r, request, key_required=True)
    body = await request.body()
    return await run_in_threadpool(_store_batch, r, body)


def _store_batch(race: definition.Race, body: bytes) -> BatchReceipt:
    try:
        items = ingest.parse_batch(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None
    return BatchReceipt.model_validate(policy.accept(race, ingest.frame_of(items, "batch")))


def _store_one(race: definition.Race, frame: Any) -> None:
    """One position: stored, or counted (an unknown device: 200, as the tracker can do nothing better), or a 429
    when its device is over its rate."""
    answer = policy.accept(race, frame)
    if answer["rejected"].get(policy.RATE_LIMITED):
        raise TooManyRequests(f"device over its rate ({settings().device_rate}); this position was not stored",
                              details={"retry_after": 1})


OSMAND = "race: one position in the OsmAnd protocol (Traccar Client), query, form or JSON"
OSMAND_ANSWER: dict[int | str, dict[str, Any]] = {**INGEST_ERRORS, 200: {
    "description": "the position was stored, or counted (an unknown device: the tracker can do nothing better)",
    "content": {"text/plain": {"schema": {"type": "string", "enum": ["OK"]}}}}}
OWNTRACKS_ANSWER: dict[int | str, dict[str, Any]] = {**INGEST_ERRORS, 200: {
    "description": "the message was stored, counted or (not a location) ignored: always an empty list (no friends' "
                   "positions, no commands for the app)",
    "content": {"application/json": {"schema": {"type": "array", "maxItems": 0}}}}}


@router.get("/{race}/osmand", response_class=PlainTextResponse, summary=OSMAND, responses=OSMAND_ANSWER)
@router.post("/{race}/osmand", response_class=PlainTextResponse, summary=OSMAND, responses=OSMAND_ANSWER)
async def osmand(race: RaceName, request: Request) -> PlainTextResponse:
    r = _race(race)
    await _gate(r, request, key_required=False)
    frame = ingest.osmand_frame(await ingest.osmand_params(request))
    await run_in_threadpool(_store_one, r, frame)
    return PlainTextResponse("OK")


@router.post("/{race}/owntracks", summary="race: an OwnTracks message over HTTP (answers []); the ingest key may "
             "be its basic auth password", responses=OWNTRACKS_ANSWER)
async def owntracks(race: RaceName, request: Request) -> JSONResponse:
    r = _race(race)
    await _gate(r, request, key_required=False)
    message = ingest.decode_json(await request.body())
    user, device = request.headers.get("x-limit-u"), request.headers.get("x-limit-d")
    frame = ingest.owntracks_frame(message, f"{user}/{device}" if user and device else None)
    if frame is not None:
        await run_in_threadpool(_store_one, r, frame)
    return JSONResponse([])


@router.post("/{race}/runners/{bib}/dnf", dependencies=[AdminDep], summary="race: mark a runner DNF (or not)")
def dnf(race: RaceName, bib: Bib, dnf: bool = True) -> DnfMark:
    ingest.command(_race(race), bib, dnf)
    return DnfMark(race=race, bib=bib, dnf=dnf, note="applied by the processor within a second")


@router.get("/{race}/leaderboard", summary="race: one page of the leaderboard, overall or in a category")
def leaderboard(race: RaceName, category: Annotated[str | None, Query(max_length=40)] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 10,
                offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Leaderboard:
    return Leaderboard.model_validate(queries.leaderboard(_race(race), category, limit, offset))


@router.get("/{race}/search", summary="race: runners by bib or name (typos forgiven)")
def search(race: RaceName, q: Annotated[str, Query(min_length=1, max_length=80)],
           limit: Annotated[int, Query(ge=1, le=50)] = 10) -> SearchHits:
    return SearchHits.model_validate(queries.search(_race(race), q, limit))


@router.get("/{race}/runners/{bib}", summary="race: one runner: position, distance, pace, splits, track")
def runner(race: RaceName, bib: Bib, track: bool = True) -> RunnerDetail:
    return RunnerDetail.model_validate(queries.runner(_race(race), bib, track))


@router.get("/{race}/progress", summary="race: the leaders' distance over time")
def progress(race: RaceName, top: Annotated[int, Query(ge=1, le=20)] = 5) -> LeadersProgress:
    return LeadersProgress.model_validate(queries.progress(_race(race), top))


@router.get("/{race}/stats", summary="race: pings/s, processing lag, rejected pings by reason, statuses")
def stats(race: RaceName) -> LiveStats:
    return LiveStats.model_validate(queries.stats(_race(race)))


@router.get("/{race}/course", summary="race: the course's points (for a map) and checkpoints")
def course(race: RaceName, points: Annotated[int, Query(ge=10, le=5000)] = 500) -> CourseMap:
    r = _race(race)
    c = r.course
    step = max(1, c.lat.size // points)
    lat, lon = c.lat[::step], c.lon[::step]
    marks = c.position_at(c.checkpoint_m)
    return CourseMap.model_validate({**r.summary(), "lat": np.round(np.append(lat, c.lat[-1]), 6).tolist(),
            "lon": np.round(np.append(lon, c.lon[-1]), 6).tolist(),
            "checkpoint_points": [{"name": cp.name, "lat": float(a), "lon": float(o)}
                                  for cp, a, o in zip(c.checkpoints, marks[0], marks[1], strict=True)]})
