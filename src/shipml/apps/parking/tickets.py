"""Importer of the Madrid SER parking tickets in their real published format (see ``TICKETS.md``).

One or many ``;``-separated files are scanned lazily with polars and reduced, in one streaming pass, to *ticket
kinds*: how many kept tickets share (neighbourhood, zone, start hour, end hour), plus how many rows were rejected
by reason. Memory is bounded by the number of distinct kinds (~1 M for a quarter), not by the number of tickets.

The original's cleaning, in order (the first failing rule is a row's reason):

1. ``encoding`` / ``truncated_last_line`` — see :mod:`shipml.apps.parking.sources`;
2. ``missing_field`` — no ``fecha_inicio``, ``fecha_fin`` or ``barrio``;
3. ``bad_date`` — a date in none of the known formats;
4. ``before_2020`` — start before 2020-01-01; ``end_not_after_start``;
5. ``test_row`` — ``ELO MONITORIZACION 1``, ``TALLER DEVAS``, ``TEST PARKARE``;
6. ``unknown_neighbourhood`` — the barrio (name, unaccented, ``PILAR`` → ``EL PILAR``, or a ``DD-BB`` code; else
   the ``codigo_distrito``/``codigo_barrio`` columns) is not one of the known neighbourhoods;
7. ``other_zone`` — ``tipo_zona`` is neither ``AZUL`` nor ``VERDE`` (the original keeps only those).

Times are naive Europe/Madrid wall-clock times, as in the files. The start is floored to the hour and the end
ceiled to the hour, which loses nothing: the hourly count only asks which hours a ticket overlaps.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from shipml.apps.parking.sources import prepare_text_file
from shipml.apps.parking.validation import NAME_ALIASES, TEST_BARRIOS, RejectReport, normalise_name
from shipml.core.errors import NotFound, RejectedData

log = logging.getLogger(__name__)

SEPARATOR = ";"
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M:%S",
                "%d/%m/%Y %H:%M")
COLUMN_ALIASES = {"cod_distrito": "codigo_distrito", "cod_barrio": "codigo_barrio"}
REQUIRED = ("fecha_inicio", "fecha_fin", "barrio")
ZONES = ("AZUL", "VERDE")
CODE_ONLY = re.compile(r"^(\d{1,2}) ?- ?(\d{1,2})$")
KIND_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
   "neighbourhood_id": pl.Int32, "zone": pl.String, "start_hour": pl.Datetime("us"),
               "end_hour": pl.Datetime("us"), "tickets": pl.Int64}


@dataclass
class TicketImport:
    """Kept tickets as kinds (``neighbourhood_id``, ``zone``, ``start_hour``, ``end_hour``, ``tickets``)."""

    kinds: pl.DataFrame
    report: RejectReport

    @property
    def tickets(self) -> int:
        return int(self.kinds["tickets"].sum())


def name_lookup(names: Mapping[str, int]) -> pl.DataFrame:
    """A join table normalised name → id, with every alias of each name added."""
    table = {normalise_name(name): int(nid) for name, nid in names.items()}
    for alias, canonical in NAME_ALIASES.items():
        if canonical in table:
            table.setdefault(alias, table[canonical])
    return pl.DataFrame({"barrio_key": list(table), "name_id": list(table.values())},
                        schema={"barrio_key": pl.String, "name_id": pl.Int32})


def _parse_datetime(col: str, formats: tuple[str, ...]) -> pl.Expr:
    text = pl.col(col).str.strip_chars()
    parsed = [text.str.to_datetime(fmt, strict=False, time_unit="us") for fmt in formats]
    return parsed[0] if len(parsed) == 1 else pl.coalesce(parsed)


def sniff_date_formats(path: Path, column: str = "fecha_inicio", rows: int = 2000) -> tuple[str, ...]:
    """The date formats of a file, most common first, judged on its first rows (one format parses fastest)."""
    head = pl.read_csv(path, separator=SEPARATOR, infer_schema=False, n_rows=rows, encoding="utf8-lossy",
                       truncate_ragged_lines=True)
    head = head.rename({c: c.strip().lower() for c in head.columns})
    if column not in head.columns or head.is_empty():
        return DATE_FORMATS
    text = head[column].str.strip_chars()
    hits = {fmt: int(text.str.to_datetime(fmt, strict=False).is_not_null().sum()) for fmt in DATE_FORMATS}
    used = tuple(fmt for fmt in sorted(DATE_FORMATS, key=lambda f: -hits[f]) if hits[fmt])
    return used or DATE_FORMATS


def _int(col: str, present: set[str]) -> pl.Expr:
    if col not in present:
        return pl.lit(None, dtype=pl.Int32)
    return pl.col(col).str.strip_chars().str.extract(r"^(\d+)", 1).cast(pl.Int32, strict=False)


def scan_ticket_file(path: Path) -> pl.LazyFrame:
    """One UTF-8 ticket file → a lazy frame of raw ticket kinds: the date rule that failed (``date_reason``), the
    raw ``barrio``, ``zone``, ``district``, ``barrio_code`` texts and the start/end hours. Grouping on the raw
    strings keeps every string rule off the per-row path: it runs once per distinct value afterwards."""
    raw = pl.scan_csv(path, separator=SEPARATOR, infer_schema=False, encoding="utf8-lossy", quote_char='"',
                      truncate_ragged_lines=True)
    header = raw.collect_schema().names()
    renames = {c: COLUMN_ALIASES.get(c.strip().lower(), c.strip().lower()) for c in header}
    raw = raw.rename(renames)
    present = set(renames.values())
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        raise RejectedData(f"{path.name} is not a SER ticket file: no column {', '.join(missing)} "
                           f"(header: {', '.join(header[:12])})")
    formats = sniff_date_formats(path)
    start, end = _parse_datetime("fecha_inicio", formats), _parse_datetime("fecha_fin", formats)
    date_reason = (
        pl.when(pl.col("fecha_inicio").is_null() | pl.col("fecha_fin").is_null()).then(pl.lit("missing_field"))
        .when(start.is_null() | end.is_null()).then(pl.lit("bad_date"))
        .when(start.dt.year() < 2020).then(pl.lit("before_2020"))
        .when(end <= start).then(pl.lit("end_not_after_start"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    end_hour = end.dt.truncate("1h")
    return raw.select(
        date_reason=date_reason,
        barrio=pl.col("barrio"),
        zone=pl.col("tipo_zona") if "tipo_zona" in present else pl.lit(None, dtype=pl.String),
        district=_int("codigo_distrito", present),
        barrio_code=_int("codigo_barrio", present),
        start_hour=start.dt.truncate("1h"),
        end_hour=pl.when(end_hour == end).then(end_hour).otherwise(end_hour + pl.duration(hours=1)),
    )


def _resolve(raw: pl.DataFrame, names: dict[str, int], known: set[int]) -> pl.DataFrame:
    """Raw kinds → ``reason`` (null when kept), ``neighbourhood_id``, ``zone``; string rules run per distinct value."""
    def barrio_id(text: str | None) -> tuple[str | None, int | None]:
        if text is None or not text.strip():
            return None, None
        key = normalise_name(text)
        code = CODE_ONLY.match(key)
        if code:
            return key, int(code.group(1)) * 100 + int(code.group(2))
        return key, names.get(key)

    distinct = raw["barrio"].unique().to_list()
    resolved = [barrio_id(b) for b in distinct]
    barrios = pl.DataFrame({"barrio": distinct, "barrio_key": [r[0] for r in resolved],
                            "name_id": [r[1] for r in resolved]},
                           schema={"barrio": pl.String, "barrio_key": pl.String, "name_id": pl.Int32})
    zones = raw["zone"].unique().to_list()
    zone_table = pl.DataFrame({"zone": zones, "zone_key": [normalise_name(z) if z else None for z in zones]},
                              schema={"zone": pl.String, "zone_key": pl.String})
    frame = raw.join(barrios, on="barrio", how="left", nulls_equal=True).join(
        zone_table, on="zone", how="left", nulls_equal=True)
    nid = pl.coalesce([pl.col("name_id"), pl.col("district") * 100 + pl.col("barrio_code")]).cast(pl.Int32)
    reason = (
        pl.when(pl.col("barrio_key").is_null()).then(pl.lit("missing_field"))
        .when(pl.col("date_reason").is_not_null()).then(pl.col("date_reason"))
        .when(pl.col("barrio_key").is_in(pl.Series(sorted(TEST_BARRIOS)).implode())).then(pl.lit("test_row"))
        .when(nid.is_null() | ~nid.is_in(pl.Series(sorted(known), dtype=pl.Int32).implode()))
        .then(pl.lit("unknown_neighbourhood"))
        .when(pl.col("zone_key").is_null() | ~pl.col("zone_key").is_in(pl.Series(ZONES).implode()))
        .then(pl.lit("other_zone"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    return frame.select(reason=reason, neighbourhood_id=nid, zone=pl.col("zone_key"), start_hour="start_hour",
                        end_hour="end_hour", len="len")


def read_tickets(paths: Path | Iterable[Path], neighbourhood_names: Mapping[str, int],
                 workdir: Path | None = None) -> TicketImport:
    """Import one or many SER ticket files (see the module docstring for the cleaning).

    Args:
        paths: a file, a folder (every ``*.csv`` in it) or several files.
        neighbourhood_names: known neighbourhood name → id (e.g. from the spaces file or the polygons); the set
            of ids is also the set of known neighbourhoods.
        workdir: where repaired copies of damaged files go (a temporary folder by default).

    Returns:
        the kept tickets as kinds, and the report of rows read, kept and rejected by reason.
    """
    files = _expand(paths)
    names = dict(name_lookup(neighbourhood_names).iter_rows())
    known = {int(v) for v in neighbourhood_names.values()}
    report = RejectReport()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        frames = []
        for file in files:
            file_report = RejectReport()
            prepared = prepare_text_file(file, SEPARATOR, file_report, Path(tmp))
            file_report.rows_read = file_report.rows_rejected  # lines dropped before parsing
            report.merge(file_report)
            frames.append(scan_ticket_file(prepared.path))
            log.info("tickets: %s (%s%s)", file.name, prepared.encoding, ", repaired" if prepared.repaired else "")
        keys = ["date_reason", "barrio", "zone", "district", "barrio_code", "start_hour", "end_hour"]
        grouped = pl.concat(frames).group_by(keys).len().collect(engine="streaming")
    collected = _resolve(grouped, names, known)
    rejected = collected.filter(pl.col("reason").is_not_null()).group_by("reason").agg(pl.col("len").sum())
    for reason, count in rejected.iter_rows():
        report.reject(reason, int(count))
    kinds = (
        collected.filter(pl.col("reason").is_null())
        .group_by(["neighbourhood_id", "zone", "start_hour", "end_hour"])
        .agg(tickets=pl.col("len").sum())
        .sort(["neighbourhood_id", "zone", "start_hour", "end_hour"])
        .cast(KIND_SCHEMA)  # type: ignore[arg-type]
    )
    report.rows_kept = int(kinds["tickets"].sum())
    report.rows_read += int(collected["len"].sum())
    log.info("tickets: %s", report.to_dict())
    return TicketImport(kinds, report)


def _expand(paths: Path | Iterable[Path]) -> list[Path]:
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            files += sorted(item.glob("*.csv"))
        elif item.is_file():
            files.append(item)
        else:
            raise NotFound(f"no ticket file or folder at {item}")
    if not files:
        raise NotFound(f"no ticket files in {', '.join(map(str, items))}")
    return files
