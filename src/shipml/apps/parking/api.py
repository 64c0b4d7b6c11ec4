"""The parking API: availability at a time (by neighbourhood, point or address), the map, a day's curve, address
search. Answers come from the champion :class:`~shipml.core.training.Family`; everything derived from it (members,
the map's GeoJSON per hour) is cached by model version, so a promotion is served within the champion poll and a
repeated request costs a dictionary lookup.

Times: ``at`` is ISO 8601; without an offset it is Madrid wall-clock time, with one it is converted to Madrid time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter
from shapely.geometry import mapping

from shipml.apps.parking.bundle import Reference, reference
from shipml.apps.parking.calendar import MADRID, is_regulated
from shipml.apps.parking.geo import Neighbourhood
from shipml.apps.parking.model import Member
from shipml.apps.parking.places_api import router as places_router
from shipml.apps.parking.schemas import (
    AddressPoint,
    Availability,
    AvailabilityMap,
    DayCurve,
    DayMap,
    Estimate,
    Feature,
    FeatureProperties,
    Geometry,
    Hour,
    Interval,
    ModelRef,
    NeighbourhoodHours,
    NeighbourhoodSpaces,
    Place,
    Point,
)
from shipml.apps.parking.tasks import MODEL
from shipml.apps.parking.validation import parse_code
from shipml.core import registry
from shipml.core.errors import InvalidInput, NotFound
from shipml.core.registry import Served
from shipml.core.training import Family

router = APIRouter()
NOT_REGULATED = "parking is not regulated at this time: it is free, and no forecast is made (the original's rule)"


EARLIEST = datetime(2000, 1, 1)  # the ticket data start long after; before this the model has nothing to say
YEARS_AHEAD = 5  # forecasts of the calendar's regulation and weekly pattern, at most this many years ahead


def _supported() -> tuple[datetime, datetime]:
    """The times ``at`` may name: from 2000-01-01 to the end of the year ``YEARS_AHEAD`` years from now."""
    return EARLIEST, datetime(datetime.now(MADRID).year + YEARS_AHEAD + 1, 1, 1)


def parse_time(text: str) -> datetime:
    """ISO 8601 → naive Madrid wall-clock time; a clear 422 otherwise (also for a time outside the supported
    range, checked before the conversion to Madrid time, which overflows at the ends of the calendar)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"'at' must be an ISO 8601 time such as 2024-05-06T10:00 (Madrid time), not {text!r}",
                           details={"reason": "malformed_time"}) from None
    first, end = _supported()
    margin = timedelta(days=1)  # an offset moves a time by less than a day
    wall = moment.replace(tzinfo=None)
    if first - margin <= wall < end + margin and moment.tzinfo:
        wall = moment.astimezone(MADRID).replace(tzinfo=None)
    if not first <= wall < end:
        last = (end - timedelta(days=1)).date()
        raise InvalidInput(f"'at' must be between {first.date()} and {last} (Madrid time): the supported range of "
                           f"the forecasts, not {text!r}", details={"reason": "time_out_of_range"})
    return wall


def _champion() -> Served[Family]:
    return registry.champion(MODEL).require(Family, app="parking", missing="no parking model yet")


def _neighbourhood(ref: Reference, text: str) -> Neighbourhood:
    text = text.strip()
    nid = int(text) if text.isdigit() else parse_code(text) if text[:1].isdigit() else None
    return ref.locator.get(nid) if nid is not None else ref.locator.find_name(text)


def _member(family: Family, n: Neighbourhood) -> Member:
    member = family.members.get(str(n.id))
    if member is None:
        raise NotFound(f"no forecast for {n.name} ({n.code}): the spaces file has no SER spaces there")
    return member  # type: ignore[no-any-return]


def _model(version: int, family: Family) -> ModelRef:
    return ModelRef(name=MODEL, version=version, candidate=family.params.get("model"),
                    data_version=family.params.get("data_version"))


def estimate(member: Member, at: datetime, level: int) -> Estimate:
    """One neighbourhood at one hour: free fraction, free spaces and the interval, or why there is no number."""
    if not is_regulated(at):
        return Estimate(regulated=False, free_fraction=None, free_spaces=None, interval=None, message=NOT_REGULATED)
    share, lo, hi, method = member.occupied_share(at)
    free, free_lo, free_hi = 1 - share, 1 - hi, 1 - lo
    return Estimate(regulated=True, free_fraction=round(free, 4), free_spaces=round(free * member.spaces),
                    interval=Interval(level=level, free_fraction=(round(free_lo, 4), round(free_hi, 4)),
                                      free_spaces=(round(free_lo * member.spaces), round(free_hi * member.spaces))),
                    method=method)


@router.get("/availability")
def availability(
    at: Annotated[str, Query(description="ISO 8601; Madrid time when no offset is given", max_length=40)],
    neighbourhood: Annotated[str | None, Query(description="id (101), code (01-01) or name", max_length=80)] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    address: Annotated[str | None, Query(max_length=120)] = None,
) -> Availability:
    """The chance of a free space in a neighbourhood at a time, with the estimated free spaces and an interval."""
    moment = parse_time(at)
    given = sum(x is not None for x in (neighbourhood, address)) + (lat is not None or lon is not None)
    if given != 1 or (lat is None) != (lon is None):
        raise InvalidInput("give exactly one of: neighbourhood=ID, lat=…&lon=…, address=…")
    version, family = _champion()
    ref = reference()
    point: AddressPoint | Point | None = None
    if neighbourhood is not None:
        n = _neighbourhood(ref, neighbourhood)
    elif address is not None:
        hit = ref.addresses.search(address, limit=1)[0]
        n, point = ref.locator.get(hit.neighbourhood_id), AddressPoint(label=hit.label, lat=hit.lat, lon=hit.lon,
                                                                       match=hit.match, note=hit.note)
    else:
        assert lat is not None and lon is not None
        n, point = ref.locator.locate(lat, lon), Point(lat=lat, lon=lon)
    member = _member(family, n)
    return Availability(neighbourhood=Place.of(n), at=moment.isoformat(), spaces=member.spaces, point=point,
                        **dict(estimate(member, moment, int(family.params.get("level", 80)))),
                        synthetic=bool(family.params.get("synthetic")), model=_model(version, family))


class GeoJSONResponse(JSONResponse):
    """A GeoJSON answer: the body is pre-rendered bytes (passed through) or an object to render as JSON."""

    media_type = "application/geo+json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


_GEOMETRY: TypeAdapter[Geometry] = TypeAdapter(Geometry)


@lru_cache(maxsize=8)
def _geometries(polygons_key: int) -> dict[int, Geometry]:
    del polygons_key  # the reference object is cached itself; this key only ties the cache to it
    return {n.id: _GEOMETRY.validate_python(mapping(n.geometry)) for n in reference().locator.neighbourhoods}


@lru_cache(maxsize=512)
def _map_bytes(version: int, at: datetime) -> bytes:
    """The map at an hour, rendered once per model version and hour (a repeated request is a dictionary lookup)."""
    _, family = _champion()
    ref = reference()
    level = int(family.params.get("level", 80))
    geometries = _geometries(id(ref))
    features = []
    for n in ref.locator.neighbourhoods:
        member = family.members.get(str(n.id))
        if member is None:
            guess = Estimate(regulated=is_regulated(at), free_fraction=None, free_spaces=None, interval=None,
                             message="no SER spaces in the spaces file")
        else:
            guess = estimate(member, at, level)
        props = FeatureProperties(**dict(Place.of(n)), spaces=member.spaces if member else 0, **dict(guess))
        features.append(Feature(id=n.id, properties=props, geometry=geometries[n.id]))
    body = AvailabilityMap(at=at.isoformat(), regulated=is_regulated(at), model=_model(version, family),
                           synthetic=bool(family.params.get("synthetic")), features=features)
    return body.model_dump_json().encode()


@router.get("/map", response_class=GeoJSONResponse,
            responses={200: {"model": AvailabilityMap, "description": "a GeoJSON FeatureCollection"}})
def availability_map(at: Annotated[str, Query(max_length=40)]) -> Response:
    """Every neighbourhood's availability at a time, as a GeoJSON FeatureCollection (one Feature per polygon)."""
    moment = parse_time(at).replace(minute=0, second=0, microsecond=0)
    version, _ = _champion()
    return GeoJSONResponse(_map_bytes(version, moment))


@lru_cache(maxsize=64)
def _day_map_bytes(version: int, day: date) -> bytes:
    """Every neighbourhood's 24 hours of ``day``, rendered once per model version and day."""
    _, family = _champion()
    level = int(family.params.get("level", 80))
    start = datetime.combine(day, datetime.min.time())
    hours = [start + timedelta(hours=h) for h in range(24)]
    rows = []
    for n in reference().locator.neighbourhoods:
        member = family.members.get(str(n.id))
        guesses = [estimate(member, at, level) if member is not None else None for at in hours]
        rows.append(NeighbourhoodHours(
            id=n.id, spaces=member.spaces if member is not None else 0,
            free_fraction=[g.free_fraction if g else None for g in guesses],
            low=[g.interval.free_fraction[0] if g and g.interval else None for g in guesses],
            high=[g.interval.free_fraction[1] if g and g.interval else None for g in guesses],
            free_spaces=[g.free_spaces if g else None for g in guesses]))
    body = DayMap(date=day, level=level, regulated=[is_regulated(at) for at in hours],
                  synthetic=bool(family.params.get("synthetic")), model=_model(version, family), neighbourhoods=rows)
    return body.model_dump_json().encode()


@router.get("/map/day", response_model=DayMap)
def day_map(day: Annotated[date, Query(alias="date", description="YYYY-MM-DD")]) -> Response:
    """Every neighbourhood's availability at every hour of a day (no geometry: take it from ``/map`` once), so a
    map's hour slider redraws without a request. Computed once per model version and day."""
    version, _ = _champion()
    return Response(_day_map_bytes(version, day), media_type="application/json")


@router.get("/day")
def day_curve(neighbourhood: Annotated[str, Query(max_length=80)],
              day: Annotated[date, Query(alias="date", description="YYYY-MM-DD")]) -> DayCurve:
    """The 24 hours of one day in one neighbourhood (free fraction and interval where parking is regulated)."""
    version, family = _champion()
    n = _neighbourhood(reference(), neighbourhood)
    member = _member(family, n)
    level = int(family.params.get("level", 80))
    start = datetime.combine(day, datetime.min.time())
    hours = [Hour(hour=h, at=(start + timedelta(hours=h)).isoformat(),
                  **dict(estimate(member, start + timedelta(hours=h), level))) for h in range(24)]
    return DayCurve(neighbourhood=Place.of(n), date=day, spaces=member.spaces, hours=hours,
                    synthetic=bool(family.params.get("synthetic")), model=_model(version, family))


@router.get("/neighbourhoods")
def neighbourhoods() -> list[NeighbourhoodSpaces]:
    """Every SER neighbourhood with its spaces (0 where the spaces file has none)."""
    ref = reference()
    per = {r["neighbourhood_id"]: r for r in ref.per_neighbourhood.iter_rows(named=True)}
    return [NeighbourhoodSpaces(**dict(Place.of(n)), spaces=int(per[n.id]["capacity"]) if n.id in per else 0,
                                zone=per[n.id]["zone"] if n.id in per else None)
            for n in ref.locator.neighbourhoods]


router.include_router(places_router)  # the address search and the map's base layer (:mod:`.places_api`)
