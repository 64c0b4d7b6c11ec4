"""Neighbourhood polygons and point → neighbourhood lookup (shapely STRtree), and UTM 30N → WGS84.

The polygons are the original's ``neighbourhood_limits.geojson`` (CRS84: lon, lat): 60 SER neighbourhoods plus
one feature marked ``No está en la zona SER`` that is skipped. A point outside every neighbourhood raises
:class:`~shipml.core.errors.InvalidInput` (``outside_ser_zone`` in its details).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from shapely import STRtree, points
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from shipml.apps.parking.validation import neighbourhood_id, normalise_name
from shipml.core.errors import InvalidInput, NotFound, RejectedData

log = logging.getLogger(__name__)

# How far (in degrees, ~20 m) a point on a shared border or in a sliver between polygons may be from one.
BORDER_TOLERANCE_DEG = 0.0002


@dataclass(frozen=True)
class Neighbourhood:
    id: int
    name: str
    district: str
    geometry: BaseGeometry

    @property
    def code(self) -> str:
        """``'01-01'`` style code."""
        return f"{self.id // 100:02}-{self.id % 100:02}"


def read_neighbourhoods(path: Path) -> list[Neighbourhood]:
    """The SER neighbourhoods of a GeoJSON with ``CODDIS``, ``NOMDIS``, ``CODBAR``, ``NOMBAR`` properties."""
    try:
        features = json.loads(Path(path).read_text(encoding="utf-8"))["features"]
    except (OSError, ValueError, KeyError) as exc:
        raise RejectedData(f"cannot read neighbourhood polygons from {path}: {exc}") from exc
    out = []
    for feature in features:
        props = feature.get("properties") or {}
        try:
            nid = neighbourhood_id(int(props["CODDIS"]), int(props["CODBAR"]))
        except (KeyError, ValueError, TypeError):
            continue  # the "not in the SER zone" feature has '-' codes
        geometry = shape(feature["geometry"])
        if not geometry.is_valid:
            geometry = geometry.buffer(0)
        out.append(Neighbourhood(nid, str(props.get("NOMBAR", nid)), str(props.get("NOMDIS", "")), geometry))
    if not out:
        raise RejectedData(f"no SER neighbourhood in {path}")
    return sorted(out, key=lambda n: n.id)


class NeighbourhoodLocator:
    """Point (lat, lon in WGS84) → neighbourhood, with an STRtree over the polygons."""

    def __init__(self, neighbourhoods: list[Neighbourhood]) -> None:
        self.neighbourhoods = neighbourhoods
        self.by_id = {n.id: n for n in neighbourhoods}
        self._tree = STRtree([n.geometry for n in neighbourhoods])
        self._names = {normalise_name(n.name): n.id for n in neighbourhoods}

    @classmethod
    def from_geojson(cls, path: Path) -> NeighbourhoodLocator:
        return cls(read_neighbourhoods(path))

    def locate(self, lat: float, lon: float) -> Neighbourhood:
        """The neighbourhood containing the point; :class:`InvalidInput` outside the SER zone."""
        if not (np.isfinite(lat) and np.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise InvalidInput(f"not a coordinate: lat={lat}, lon={lon}")
        hit = self.locate_many(np.array([lat]), np.array([lon]))[0]
        if hit < 0:
            raise InvalidInput(f"the point lat={lat}, lon={lon} is outside the SER zone (paid street parking "
                               "in Madrid)", details={"reason": "outside_ser_zone", "lat": lat, "lon": lon})
        return self.neighbourhoods[hit]

    def locate_many(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Index into ``self.neighbourhoods`` of the polygon containing each point, -1 where none does."""
        pts = points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        out = np.full(len(pts), -1, dtype=np.int64)
        inside = self._tree.query(pts, predicate="intersects")
        out[inside[0]] = inside[1]
        missing = np.flatnonzero(out < 0)
        if len(missing):
            near = self._tree.query_nearest(pts[missing], max_distance=BORDER_TOLERANCE_DEG, all_matches=False)
            out[missing[near[0]]] = near[1]
        return out

    def get(self, nid: int) -> Neighbourhood:
        try:
            return self.by_id[int(nid)]
        except (KeyError, ValueError, TypeError) as exc:
            raise NotFound(f"no SER neighbourhood with id {nid}") from exc

    def find_name(self, name: str) -> Neighbourhood:
        nid = self._names.get(normalise_name(name))
        if nid is None:
            raise NotFound(f"no SER neighbourhood called {name!r}")
        return self.by_id[nid]

    def geojson(self, properties: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
        """A FeatureCollection of every neighbourhood, with ``id``, ``name``, ``code`` and extra properties."""
        from shapely.geometry import mapping

        features = []
        for n in self.neighbourhoods:
            props = {"id": n.id, "name": n.name, "code": n.code, "district": n.district,
                     **((properties or {}).get(n.id) or {})}
            features.append({"type": "Feature", "id": n.id, "properties": props, "geometry": mapping(n.geometry)})
        return {"type": "FeatureCollection", "features": features}


@lru_cache(maxsize=1)
def _utm30_to_wgs84() -> Any:
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:25830", "EPSG:4326", always_xy=True)


def utm30n_to_wgs84(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ETRS89 / UTM zone 30N easting, northing (metres) → (lat, lon) in degrees."""
    lon, lat = _utm30_to_wgs84().transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lat), np.asarray(lon)
