"""An offline address index from the SER spaces file: street + number → point (WGS84) and neighbourhood.

The spaces file names streets as ``AGUAS, CALLE, DE LAS`` (name, type, particle); the index shows them as
``CALLE DE LAS AGUAS``. Search is typo-tolerant with the platform's one matcher and cutoff
(:mod:`shipml.core.matching`, on the bare street names): ``"calle alcla 45"`` finds ``CALLE DE ALCALA`` 45.
A number picks the nearest numbered point on that street (same side, odd or even, preferred); without a number
the street's middle point is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import polars as pl

from shipml.apps.parking.geo import utm30n_to_wgs84
from shipml.core import matching
from shipml.core.errors import InvalidInput, NotFound
from shipml.core.matching import unaccent

QUERY = re.compile(r"^(?P<street>.*?)(?:[\s,]+(?:N[ºO°]?\.?\s*)?(?P<number>\d+)\s*[A-Z]?)?\s*$", re.I)


@dataclass(frozen=True)
class AddressMatch:
    street: str
    number: int | None
    lat: float
    lon: float
    neighbourhood_id: int
    score: float

    @property
    def label(self) -> str:
        return f"{self.street} {self.number}" if self.number is not None else self.street


def display_street(raw: str) -> str:
    """``'AGUAS, CALLE, DE LAS'`` → ``'CALLE DE LAS AGUAS'``; other shapes are kept (spaces tidied)."""
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) >= 2:
        return " ".join(p for p in [*parts[1:], parts[0]] if p)
    return " ".join(raw.split())


STREET_TYPES = frozenset("""CALLE C C/ CL AVENIDA AV AVDA PASEO PS PLAZA PL PZA GLORIETA RONDA CAMINO CARRERA TRAVESIA
    COSTANILLA CUESTA PASAJE PLAZUELA CARRETERA BULEVAR PARQUE PUERTA JARDINES DE DEL LA LAS LOS EL Y""".split())


def _key(text: str) -> str:
    return " ".join(unaccent(text).upper().replace(",", " ").split())


def bare_name(text: str) -> str:
    """The street's own name, without its type and particles: ``'Calle de las Aguas'`` → ``'AGUAS'``."""
    words = _key(text).split()
    while len(words) > 1 and words[0] in STREET_TYPES:
        words.pop(0)
    return " ".join(words)


class AddressIndex:
    """Streets and numbered points of a spaces frame (:func:`~shipml.apps.parking.spaces.read_spaces`)."""

    def __init__(self, spaces: pl.DataFrame) -> None:
        rows = spaces.filter(pl.col("x").is_not_null() & pl.col("y").is_not_null() & pl.col("street").is_not_null())
        if rows.is_empty():
            raise NotFound("no street with coordinates in the spaces data")
        lat, lon = utm30n_to_wgs84(rows["x"].to_numpy(), rows["y"].to_numpy())
        self.points = rows.select(
            street=pl.col("street").map_elements(display_street, return_dtype=pl.String),
            number=pl.col("number").str.extract(r"^(\d+)", 1).cast(pl.Int64, strict=False),
            neighbourhood_id=pl.col("neighbourhood_id"),
        ).with_columns(lat=pl.Series(lat), lon=pl.Series(lon))
        self.streets: list[str] = sorted(self.points["street"].unique().to_list())
        self._keys = [_key(s) for s in self.streets]
        self._bare = [bare_name(s) for s in self.streets]
        self._by_street = self.points.partition_by("street", as_dict=True)

    def __len__(self) -> int:
        return len(self.streets)

    def search(self, query: str, limit: int = 5) -> list[AddressMatch]:
        """Best matches for a free-text address, best first; :class:`NotFound` when nothing passes the cutoff."""
        match = QUERY.match(query.strip())
        street_text = (match.group("street") if match else query).strip(" ,")
        if len(street_text) < 3:
            raise InvalidInput("an address needs a street name of at least 3 letters")
        number = int(match.group("number")) if match and match.group("number") else None
        hits = matching.search(bare_name(street_text), self._bare, limit=limit * 4)
        if not hits:
            shown = query if len(query) <= 60 else query[:57] + "…"
            raise NotFound(f"no street like {shown!r} in the SER zone")
        full = matching.normalize(_key(street_text))
        # ties on the name (CALLE / PLAZA DE X) go to the one whose type and particles match the query best
        ranked = sorted(hits, key=lambda h: (-h.score, -matching.similarity(full, matching.normalize(
            self._keys[h.index]))))[:limit]
        return [self._point(self.streets[h.index], number, 100 * h.score) for h in ranked]

    def _point(self, street: str, number: int | None, score: float) -> AddressMatch:
        pts = self._by_street[(street,)]
        numbers = pts["number"].to_numpy()
        if number is not None and np.isfinite(numbers.astype(float)).any():
            nums = numbers.astype(float)
            distance = np.abs(nums - number) + np.where(nums % 2 == number % 2, 0, 1000)
            distance = np.where(np.isnan(distance), np.inf, distance)
            i = int(np.argmin(distance))
            found = int(nums[i])
        else:
            lat, lon = pts["lat"].to_numpy(), pts["lon"].to_numpy()
            i = int(np.argmin((lat - np.median(lat)) ** 2 + (lon - np.median(lon)) ** 2))
            found = None
        row = pts.row(i, named=True)
        return AddressMatch(street, found,
                            float(row["lat"]), float(row["lon"]), int(row["neighbourhood_id"]), score)
