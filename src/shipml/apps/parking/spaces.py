"""The official SER spaces files ("SER. Calles y número de plazas"), whatever their year, encoding and header.

2020: ISO-8859-1, header ``Gis_X;Gis_Y;Distrito;Barrio;Calle;Nº Finca;Color;Batería/Línea;Número de Plazas``,
colours without codes (``Azul``). 2022-04: UTF-8 with BOM, ``gis_x;…;num_plazas``, colours with codes
(``043000255 Azul``). 2023-08: ISO-8859-1, same header as 2022-04. Coordinates are ETRS89 / UTM 30N with decimal
commas. Every file becomes one row per street segment: ``neighbourhood_id``, ``neighbourhood``, ``district``,
``street``, ``number``, ``colour`` (``blue``, ``green``, ``other``), ``spaces``, ``x``, ``y``.

Capacity per neighbourhood, as the original: its blue spaces, or its green spaces if it has none; the ticket zone
counted against it is then ``AZUL`` or ``VERDE`` accordingly (in the Centro district, 101–106, only green).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import polars as pl

from shipml.apps.parking.sources import decode_small_file
from shipml.apps.parking.validation import normalise_name
from shipml.core.errors import RejectedData
from shipml.core.matching import unaccent

log = logging.getLogger(__name__)

# normalised header (lower case, unaccented, non-letters → _) → our column
HEADER_MAP = {
    "gis_x": "x", "gis_y": "y", "distrito": "district", "barrio": "barrio", "calle": "street",
    "n_finca": "number", "num_finca": "number", "numero_de_finca": "number", "color": "colour",
    "bateria_linea": "layout", "numero_de_plazas": "spaces", "num_plazas": "spaces",
}
SPACES_COLUMNS = ("neighbourhood_id", "neighbourhood", "district", "street", "number", "colour", "spaces", "x", "y")


def _header_key(name: str) -> str:
    key = "".join(c if c.isalnum() else "_" for c in unaccent(name.strip().lstrip("\ufeff")).lower())
    return "_".join(part for part in key.split("_") if part)


def read_spaces(path: Path) -> pl.DataFrame:
    """One spaces file → one row per street segment (see module docstring). Rows without a barrio code are
    rejected with a :class:`RejectedData` if none is left; an empty ``num_plazas`` counts 0 spaces."""
    text = decode_small_file(path)
    frame = pl.read_csv(io.StringIO(text), separator=";", infer_schema=False, truncate_ragged_lines=True)
    renames = {c: HEADER_MAP[_header_key(c)] for c in frame.columns if _header_key(c) in HEADER_MAP}
    frame = frame.rename(renames)
    missing = {"x", "y", "barrio", "street", "colour", "spaces"} - set(frame.columns)
    if missing:
        raise RejectedData(f"{Path(path).name} is not a SER spaces file: missing {sorted(missing)} "
                           f"(header: {frame.columns})")
    if "number" not in frame.columns:
        frame = frame.with_columns(number=pl.lit(None, dtype=pl.String))
    code = pl.col("barrio").str.extract(r"^\s*(\d{1,2})-(\d{1,2})", 1).cast(pl.Int32) * 100 + \
        pl.col("barrio").str.extract(r"^\s*(\d{1,2})-(\d{1,2})", 2).cast(pl.Int32)
    colour = pl.col("colour").str.to_lowercase()
    out = frame.select(
        neighbourhood_id=code,
        neighbourhood=pl.col("barrio").str.replace(r"^\s*\d{1,2}-\d{1,2}\s*", "")
        .map_elements(normalise_name, return_dtype=pl.String),
        district=pl.col("district").str.replace(r"^\s*\d+\s*", "").str.strip_chars(),
        street=pl.col("street").str.strip_chars(),
        number=pl.col("number").str.strip_chars(),
        colour=pl.when(colour.str.contains("azul")).then(pl.lit("blue"))
        .when(colour.str.contains("verde")).then(pl.lit("green")).otherwise(pl.lit("other")),
        spaces=pl.col("spaces").str.strip_chars().cast(pl.Int64, strict=False).fill_null(0),
        x=pl.col("x").str.replace(",", ".", literal=True).cast(pl.Float64, strict=False),
        y=pl.col("y").str.replace(",", ".", literal=True).cast(pl.Float64, strict=False),
    )
    bad = out.filter(pl.col("neighbourhood_id").is_null()).height
    out = out.filter(pl.col("neighbourhood_id").is_not_null())
    if out.is_empty():
        raise RejectedData(f"{Path(path).name}: no row has a barrio code like '01-01 PALACIO'")
    if bad:
        log.warning("%s: %d rows without a barrio code dropped", Path(path).name, bad)
    return out


def spaces_per_neighbourhood(spaces: pl.DataFrame) -> pl.DataFrame:
    """Per neighbourhood: ``blue``, ``green``, ``other`` spaces, ``capacity`` (blue, else green), ``zone`` (the
    ticket zone counted against that capacity: ``AZUL`` or ``VERDE``) and the name."""
    per = spaces.group_by("neighbourhood_id").agg(
        neighbourhood=pl.col("neighbourhood").mode().first(),
        district=pl.col("district").mode().first(),
        blue=pl.col("spaces").filter(pl.col("colour") == "blue").sum(),
        green=pl.col("spaces").filter(pl.col("colour") == "green").sum(),
        other=pl.col("spaces").filter(pl.col("colour") == "other").sum(),
    )
    return per.with_columns(
        capacity=pl.when(pl.col("blue") > 0).then(pl.col("blue")).otherwise(pl.col("green")),
        zone=pl.when(pl.col("blue") > 0).then(pl.lit("AZUL")).otherwise(pl.lit("VERDE")),
    ).sort("neighbourhood_id")


def neighbourhood_names(per_neighbourhood: pl.DataFrame) -> dict[str, int]:
    """Name → id, for the ticket importer's lookup."""
    return dict(zip(per_neighbourhood["neighbourhood"].to_list(), per_neighbourhood["neighbourhood_id"].to_list(),
                    strict=True))


def neighbourhood_occupancy(active: pl.DataFrame, per_neighbourhood: pl.DataFrame) -> pl.DataFrame:
    """Hourly active tickets of each neighbourhood's capacity zone, with its capacity and the free fraction.

    Returns ``neighbourhood_id``, ``hour``, ``hour_utc``, ``active``, ``capacity``, ``availability``.
    """
    joined = active.join(per_neighbourhood.select("neighbourhood_id", "zone", "capacity"),
                         on=["neighbourhood_id", "zone"], how="inner")
    return joined.select(
        "neighbourhood_id", "hour", "hour_utc", "active", "capacity",
        availability=pl.when(pl.col("capacity") > 0)
        .then((1 - pl.col("active") / pl.col("capacity")).clip(0.0, 1.0)).otherwise(0.0),
    ).sort(["neighbourhood_id", "hour_utc"])
