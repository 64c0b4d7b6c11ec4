"""The small reference files shipped inside the package (``bundled/``, see its SOURCES.md), and their loaders.

``make run`` needs nothing outside the package: the neighbourhood polygons (simplified), the spaces per
neighbourhood and the street index are derived here from the real public files and kept next to this module.
``SHIPML_PARKING_SPACES`` / ``SHIPML_PARKING_NEIGHBOURHOODS`` point at other (official) files instead.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl
from shapely.geometry import mapping

from shipml.apps.parking.addresses import AddressIndex
from shipml.apps.parking.geo import NeighbourhoodLocator, read_neighbourhoods
from shipml.apps.parking.settings import settings
from shipml.apps.parking.sources import NEIGHBOURHOODS_GEOJSON, SPACES_FILES
from shipml.apps.parking.spaces import read_spaces, spaces_per_neighbourhood

BUNDLED = Path(__file__).parent / "bundled"
POLYGONS = BUNDLED / "neighbourhoods.geojson"
PER_NEIGHBOURHOOD = BUNDLED / "spaces_per_neighbourhood.csv"
ADDRESSES = BUNDLED / "addresses.parquet"
SIMPLIFY_DEG = 2e-5
ADDRESS_COLUMNS = ("street", "number", "neighbourhood_id", "x", "y")


def _rounded(coords: object) -> object:
    if isinstance(coords, (list, tuple)):
        if coords and isinstance(coords[0], float):
            return [round(c, 6) for c in coords]  # type: ignore[union-attr]
        return [_rounded(c) for c in coords]
    return coords


def build(shared: Path, out: Path = BUNDLED) -> dict[str, int]:
    """Derive the bundled files from the shared data folder (``../shared/data``)."""
    out.mkdir(parents=True, exist_ok=True)
    features = []
    for n in read_neighbourhoods(shared / NEIGHBOURHOODS_GEOJSON):
        geometry = dict(mapping(n.geometry.simplify(SIMPLIFY_DEG, preserve_topology=True)))
        geometry["coordinates"] = _rounded(geometry["coordinates"])
        features.append({"type": "Feature", "geometry": geometry, "properties": {
            "CODDIS": str(n.id // 100), "CODBAR": str(n.id % 100), "NOMBAR": n.name, "NOMDIS": n.district}})
    (out / POLYGONS.name).write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    spaces = read_spaces(shared / SPACES_FILES["2023-08"])
    spaces_per_neighbourhood(spaces).write_csv(out / PER_NEIGHBOURHOOD.name)
    spaces.select(ADDRESS_COLUMNS).write_parquet(out / ADDRESSES.name, compression="zstd")
    return {"neighbourhoods": len(features), "spaces_rows": spaces.height}


@dataclass(frozen=True)
class Reference:
    """What the app needs besides tickets: polygons, spaces per neighbourhood and the address index."""

    locator: NeighbourhoodLocator
    per_neighbourhood: pl.DataFrame
    addresses: AddressIndex
    source: str


@lru_cache(maxsize=4)
def _reference(spaces: str, polygons: str) -> Reference:
    locator = NeighbourhoodLocator.from_geojson(Path(polygons) if polygons else POLYGONS)
    if spaces:
        rows = read_spaces(Path(spaces))
        per, street_rows = spaces_per_neighbourhood(rows), rows.select(ADDRESS_COLUMNS)
    else:
        per = pl.read_csv(PER_NEIGHBOURHOOD, schema_overrides={"neighbourhood_id": pl.Int32})
        street_rows = pl.read_parquet(ADDRESSES)
    return Reference(locator, per, AddressIndex(street_rows), spaces or "bundled SER spaces 2023-08")


def reference() -> Reference:
    s = settings()
    return _reference(s.spaces, s.neighbourhoods)


if __name__ == "__main__":  # python -m shipml.apps.parking.bundle ../shared/data
    print(build(Path(sys.argv[1])))
