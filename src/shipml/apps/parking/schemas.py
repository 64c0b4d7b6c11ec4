"""The parking API's answers, one pydantic model each (:mod:`shipml.apps.parking.api` returns them, the page parses
into them).

    Place ─┬─ NeighbourhoodSpaces        GET /neighbourhoods (a list)
           └─ FeatureProperties ─ Feature ─ AvailabilityMap   GET /map (GeoJSON)
    NeighbourhoodHours ─ DayMap          GET /map/day (every neighbourhood's 24 hours, no geometry)
    StreetLabel ─ StreetMap              GET /streets (the map's base layer)
    Estimate ─┬─ Availability            GET /availability
              ├─ Hour ─ DayCurve         GET /day
              └─ FeatureProperties
    AddressHit ─ StreetExtent            GET /addresses (a list; 404 with suggestions when no street matches)

Times are Madrid wall-clock times without an offset (``2024-03-04T11:00:00``). Every field is always present except
``method`` and ``message`` of an :class:`Estimate`: the one explains a number, the other its absence.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from shipml.apps.parking.geo import Neighbourhood


def _none(value: object) -> bool:
    return value is None


MatchKind = Literal["exact", "nearest_number", "street", "approximate"]
MATCH_KINDS = ("exact: the street and the number are listed; nearest_number: the street is listed, the number is "
               "not, the nearest listed number on the same side (odd/even) is answered, or the other side's when "
               "much nearer (the note says which); street: no number asked, the street's middle and its extent; "
               "approximate: another street of the same name (the street type asked is not listed)")
Position = Annotated[list[float], Field(min_length=2, description="[lon, lat]")]


class Answer(BaseModel):
    """Base of the answers: the documented output schema requires every field that is always sent."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class Place(Answer):
    """A SER neighbourhood."""

    id: int = Field(description="district × 100 + neighbourhood number, e.g. 101")
    code: str = Field(description="'DD-NN' code, e.g. '01-01'")
    name: str
    district: str

    @classmethod
    def of(cls, n: Neighbourhood) -> Place:
        return cls(id=n.id, code=n.code, name=n.name, district=n.district)


class UnlistedPlace(Answer):
    """A neighbourhood the spaces file names but the polygons do not: only its id is known."""

    id: int = Field(description="district × 100 + neighbourhood number")


class Interval(Answer):
    """The range the free share and the free spaces fall in, at the stated confidence."""

    level: int = Field(description="confidence of the interval, in percent")
    free_fraction: tuple[float, float] = Field(description="[low, high] share of the spaces free, 0..1")
    free_spaces: tuple[int, int] = Field(description="[low, high] free spaces")


class ModelRef(Answer):
    """The registered model that made an answer."""

    name: str = Field(description="registered model name")
    version: int = Field(description="registered version (the champion's)")
    candidate: str | None = Field(description="the forecaster configuration that won, e.g. 'global_lightgbm'")
    data_version: int | None = Field(description="version of the dataset it was trained on")


class Estimate(Answer):
    """One neighbourhood at one hour: the chance of a free space, or why there is no number."""

    regulated: bool = Field(description="whether parking is regulated (paid) at this hour; a forecast only then")
    free_fraction: float | None = Field(description="chance of a free space: the forecast share of spaces free, "
                                                    "0..1; null where no number is made")
    free_spaces: int | None = Field(description="estimated free spaces; null where no number is made")
    interval: Interval | None = Field(description="the range of the number; null where no number is made")
    method: str | None = Field(default=None, exclude_if=_none,
                               description="how the number was made, in words: 'observed: …' (a past hour the "
                                           "ticket data counted), 'forecast', or 'calendar profile: …' (beyond the "
                                           "forecast horizon: the usual share for that month kind, weekday and "
                                           "hour, joined to the forecast); sent only with a number")
    message: str | None = Field(default=None, exclude_if=_none,
                                description="why there is no number; sent only without one")


class Point(Answer):
    """The point asked about (``lat``/``lon``)."""

    lat: float
    lon: float


class AddressPoint(Point):
    """The address found for the text asked about, with its point and how it matched."""

    label: str = Field(description="the address found, e.g. 'CALLE DE FUENCARRAL 98'")
    match: MatchKind = Field(description=MATCH_KINDS)
    note: str = Field(description="what was found, in words")


class Availability(Estimate):
    """The chance of a free space in a neighbourhood at a time."""

    neighbourhood: Place
    at: str = Field(description="the time answered, Madrid wall-clock time, ISO 8601 without offset")
    spaces: int = Field(description="regulated spaces in the neighbourhood")
    point: AddressPoint | Point | None = Field(description="the address found or the point given; null when asked "
                                                           "by neighbourhood")
    synthetic: bool = Field(description="true when the model was trained on simulated tickets")
    model: ModelRef


class Hour(Estimate):
    """One hour of a day curve."""

    hour: int = Field(ge=0, le=23)
    at: str = Field(description="the hour's start, Madrid wall-clock time, ISO 8601 without offset")


class DayCurve(Answer):
    """The 24 hours of one day in one neighbourhood."""

    neighbourhood: Place
    date: dt.date
    spaces: int = Field(description="regulated spaces in the neighbourhood")
    hours: list[Hour] = Field(description="hours 0..23 in order")
    synthetic: bool = Field(description="true when the model was trained on simulated tickets")
    model: ModelRef


class StreetExtent(Answer):
    """A street of the SER list as a whole: its listed numbers, where it lies and the neighbourhoods it crosses."""

    numbers: tuple[int, int] | None = Field(description="lowest and highest listed house number; null if none")
    bbox: tuple[float, float, float, float] = Field(description="west, south, east, north (degrees)")
    neighbourhoods: list[Place | UnlistedPlace] = Field(description="the neighbourhoods it crosses, most of its "
                                                                    "spaces first")
    positions: list[Position] = Field(description="its listed points as [lon, lat], for drawing")


class AddressHit(Answer):
    """A street (and number) of the SER zone matching a search, with its point and neighbourhood, and how it
    matched (a query matching no street name is a 404 whose details hold suggestions)."""

    label: str = Field(description="street and number as shown, e.g. 'CALLE DE FUENCARRAL 98'")
    street: str
    number: int | None = Field(description="the listed house number answered; null for the street as a whole")
    asked_number: int | None = Field(description="the house number asked; null when none was")
    match: MatchKind = Field(description=MATCH_KINDS)
    note: str = Field(description="what was found, in words, e.g. 'CALLE DE ALCALA 45 is not listed (before the "
                                  "first listed odd number; …): the nearest listed on the same side is 77'")
    lat: float
    lon: float
    score: float = Field(description="name match score, 0..100 (100: the name as listed)")
    neighbourhood: Place | UnlistedPlace
    extent: StreetExtent


class NeighbourhoodSpaces(Place):
    """A SER neighbourhood with its regulated spaces."""

    spaces: int = Field(description="regulated spaces; 0 where the spaces file has none")
    zone: str | None = Field(description="ticket zone counted against the spaces: 'AZUL' or 'VERDE'; null without "
                                         "spaces")


class Polygon(Answer):
    """A GeoJSON Polygon: rings of positions, the outer ring first."""

    type: Literal["Polygon"] = "Polygon"
    coordinates: list[list[Position]]


class MultiPolygon(Answer):
    """A GeoJSON MultiPolygon."""

    type: Literal["MultiPolygon"] = "MultiPolygon"
    coordinates: list[list[list[Position]]]


Geometry = Annotated[Polygon | MultiPolygon, Field(discriminator="type")]


class FeatureProperties(Estimate, Place):
    """A neighbourhood on the map and its estimate at the map's hour."""

    spaces: int = Field(description="regulated spaces; 0 where the spaces file has none (then no number)")


class Feature(Answer):
    """One neighbourhood's polygon on the map."""

    type: Literal["Feature"] = "Feature"
    id: int = Field(description="the neighbourhood's id")
    properties: FeatureProperties
    geometry: Geometry


class AvailabilityMap(Answer):
    """Every neighbourhood's availability at one hour: a GeoJSON FeatureCollection (``application/geo+json``)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    at: str = Field(description="the hour answered, Madrid wall-clock time, ISO 8601 without offset")
    regulated: bool = Field(description="whether parking is regulated at this hour")
    synthetic: bool = Field(description="true when the model was trained on simulated tickets")
    model: ModelRef
    features: list[Feature] = Field(description="one per neighbourhood polygon")


class NeighbourhoodHours(Answer):
    """One neighbourhood's 24 hours on the day map; null where no number is made (not regulated, no spaces)."""

    id: int = Field(description="the neighbourhood's id")
    spaces: int = Field(description="regulated spaces; 0 where the spaces file has none (then every hour null)")
    free_fraction: list[float | None] = Field(description="hours 0..23: chance of a free space, 0..1")
    low: list[float | None] = Field(description="hours 0..23: low end of the interval (free share)")
    high: list[float | None] = Field(description="hours 0..23: high end of the interval (free share)")
    free_spaces: list[int | None] = Field(description="hours 0..23: estimated free spaces")


class DayMap(Answer):
    """Every neighbourhood at every hour of one day, for a map whose hour slider redraws without asking again
    (computed once per model version and day)."""

    date: dt.date
    level: int = Field(description="confidence of the intervals, in percent")
    regulated: list[bool] = Field(description="hours 0..23: whether parking is regulated")
    synthetic: bool = Field(description="true when the model was trained on simulated tickets")
    model: ModelRef
    neighbourhoods: list[NeighbourhoodHours] = Field(description="one per neighbourhood polygon")


class StreetLabel(Answer):
    """A street name placed on the map."""

    name: str = Field(description="as listed, e.g. 'PASEO DE LA CASTELLANA'")
    short: str = Field(description="its own name, for the map, e.g. 'Castellana'")
    lon: float
    lat: float
    length_m: float = Field(description="length of its listed stretch, metres")


class StreetMap(Answer):
    """The map's base layer, drawn from the bundled street index (no tiles): each side of each SER street as line
    segments, and labels for the longest streets."""

    source: str = Field(description="the spaces data the streets come from")
    segments: list[tuple[float, float, float, float]] = Field(description="lon, lat, lon2, lat2 (degrees)")
    labels: list[StreetLabel] = Field(description="the longest streets first")
