"""The parking API's places: the address search (what a query names, and how it matched) and the map's base
layer of SER streets; part of the parking router (:mod:`.api`)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import TypeAdapter

from shipml.apps.parking.addresses import AddressMatch, Street
from shipml.apps.parking.bundle import Reference, reference
from shipml.apps.parking.schemas import AddressHit, Place, StreetExtent, StreetLabel, StreetMap, UnlistedPlace
from shipml.apps.parking.streets import street_lines
from shipml.core.errors import InvalidInput, NotFound, ShipmlError
from shipml.core.readcache import recent

router = APIRouter()


@lru_cache(maxsize=4)
def _streets_bytes(ref_key: int) -> bytes:
    """The base layer, built once per reference (``ref_key`` ties the cache to it, as for :func:`_geometries`)."""
    del ref_key
    ref = reference()
    lines = street_lines(ref.addresses)
    body = StreetMap(source=ref.source, segments=[tuple(s) for s in lines.segments.tolist()],
                     labels=[StreetLabel(name=name, short=short, lon=round(lon, 5), lat=round(lat, 5), length_m=length)
                             for name, short, lon, lat, length in lines.labels])
    return body.model_dump_json().encode()


@router.get("/streets", response_model=StreetMap)
def streets() -> Response:
    """The map's base layer: the SER streets drawn from the bundled street index (no tiles, no token, no network)
    as line segments, and labels for the longest streets. Built once per data version."""
    return Response(_streets_bytes(id(recent("parking.reference", reference))), media_type="application/json")


def _places(ref: Reference, ids: tuple[int, ...]) -> list[Place | UnlistedPlace]:
    return [Place.of(ref.locator.by_id[i]) if i in ref.locator.by_id else UnlistedPlace(id=i) for i in ids]


@lru_cache(maxsize=4096)
def _extent(ref_key: int, street: Street) -> StreetExtent:
    """A street's extent, built once per street and reference (the index is one per data version; ``ref_key``
    only ties the cache to the cached reference object, as for :func:`_geometries`)."""
    del ref_key
    ref = reference()
    return StreetExtent(numbers=street.numbers, bbox=street.bbox, neighbourhoods=_places(ref, street.neighbourhood_ids),
                        positions=[list(p) for p in ref.addresses.positions(street)])


def _address_hit(ref: Reference, hit: AddressMatch) -> AddressHit:
    assert hit.extent is not None
    n = ref.locator.by_id.get(hit.neighbourhood_id)
    return AddressHit(label=hit.label, street=hit.street, number=hit.number, asked_number=hit.asked_number,
                      match=hit.match, note=hit.note, lat=hit.lat, lon=hit.lon, score=round(hit.score, 1),
                      neighbourhood=Place.of(n) if n else UnlistedPlace(id=hit.neighbourhood_id),
                      extent=_extent(id(ref), hit.extent))


_HITS: TypeAdapter[list[AddressHit]] = TypeAdapter(list[AddressHit])


def _address_bytes(ref_key: int, q: str, limit: int) -> bytes:
    """A search's answer rendered as JSON (``ref_key`` ties :func:`_address_answer`'s cache to the reference)."""
    del ref_key
    ref = reference()
    return _HITS.dump_json([_address_hit(ref, hit) for hit in ref.addresses.search(q, limit=limit)])


@lru_cache(maxsize=2048)
def _address_answer(ref_key: int, q: str, limit: int) -> bytes | ShipmlError:
    """A search's answer or its 4xx, kept per reference (data version) and query."""
    try:
        return _address_bytes(ref_key, q, limit)
    except (NotFound, InvalidInput) as exc:
        return exc.with_traceback(None)


@router.get("/addresses", response_model=list[AddressHit],
            responses={404: {"description": "no street name like q in the SER street list; the error's details "
                                            "hold 'suggestions' (street names)"}})
async def addresses(q: Annotated[str, Query(min_length=1, max_length=120, description="street and number")],
                    limit: Annotated[int, Query(ge=1, le=20)] = 5) -> Response:
    """The streets of the SER zone that ``q`` names (typos forgiven), best first, each with its point, its
    neighbourhood, its extent, and how it matched (``match``: exact, nearest_number, street or approximate, and a
    ``note`` in words). A query naming no listed street is a 404 with suggestions, never another street.
    (``async``: a search takes well under a millisecond, less than a hop to the thread pool.)"""
    # the reference reads the parking settings from the environment (~1 ms): looked up at most once a check period
    answer = _address_answer(id(recent("parking.reference", reference)), q, limit)
    if isinstance(answer, ShipmlError):
        raise type(answer)(answer.message, details=answer.details)  # a fresh one: a kept traceback would grow
    return Response(answer, media_type="application/json")


