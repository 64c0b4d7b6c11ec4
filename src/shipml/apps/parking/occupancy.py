"""Reader of any car-park occupancy file (id, time, capacity, occupied or free), real-feed mess included.

How each kind of mess is handled (each counted in the report):

- a row whose time does not parse → dropped (``bad_time``);
- a missing or non-numeric count → dropped (``missing_count``); a negative count → dropped (``negative_count``);
- a missing capacity → the car park's most common capacity (``capacity_filled``); a car park that never states a
  capacity gets its highest reading (``capacity_inferred``, one per car park);
- a reading above capacity → clipped to capacity (``above_capacity``): a full car park whose counter overshoots;
- several readings in one slot (``freq``) → the last one kept (``duplicate_readings``);
- a car park silent for hours or days → the slots are filled for fitting (``filled_slots``) and never scored;
- the same value for ``flat_days`` or more in a row (a stuck counter) → treated as silent (``flat_readings``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from shipml.apps.parking.series import Grid, regularise
from shipml.apps.parking.sources import decode_small_file
from shipml.core.errors import InvalidInput, NotFound, RejectedData

log = logging.getLogger(__name__)

TIME_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M:%S",
                "%d/%m/%Y %H:%M", "%Y-%m-%dT%H:%M:%S%.f%z")


@dataclass
class OccupancyData:
    """Regular series (``unique_id``, ``ds``, ``y`` occupied, ``observed``, ``capacity``) and what was done."""

    series: pl.DataFrame
    grid: Grid
    freq: str
    report: dict[str, int] = field(default_factory=dict)

    @property
    def n_series(self) -> int:
        return int(self.series["unique_id"].n_unique())

    def summary(self) -> dict[str, Any]:
        return {"series": self.n_series, "rows": self.series.height, "slots_per_day": self.grid.slots_per_day,
                "freq": self.freq, **self.report}


FREQ_UNITS = {"min": 60, "m": 60, "t": 60, "h": 3600, "s": 1, "d": 86400}


def freq_seconds(freq: str) -> int:
    """``'30min'``, ``'30m'``, ``'1h'``, ``'h'``, ``'15T'`` → seconds."""
    match = re.fullmatch(r"\s*(\d*)\s*(min|m|t|h|s|d)\s*", freq.lower())
    if not match or (match.group(1) and int(match.group(1)) == 0):
        raise InvalidInput(f"not a frequency: {freq!r} (e.g. 30min, 1h)")
    return int(match.group(1) or 1) * FREQ_UNITS[match.group(2)]


def horizon_steps(horizon: str | int, grid: Grid, freq: str) -> int:
    """A horizon (``'1d'``, ``'6h'``, or a number of slots) → number of grid slots; a day is one day's slots."""
    if isinstance(horizon, int) or str(horizon).strip().isdigit():
        steps = int(horizon)
    else:
        match = re.fullmatch(r"\s*(\d*)\s*d\s*", str(horizon).lower())
        if match:
            steps = int(match.group(1) or 1) * grid.slots_per_day
        else:
            steps = freq_seconds(str(horizon)) // freq_seconds(freq)
    if steps < 1:
        raise InvalidInput(f"the horizon {horizon!r} is shorter than one slot of {freq}")
    return steps


def _parse_time(col: pl.Expr) -> pl.Expr:
    text = col.str.strip_chars()
    parsed = [text.str.to_datetime(f, strict=False, time_unit="us") for f in TIME_FORMATS[:-1]]
    aware = text.str.to_datetime(TIME_FORMATS[-1], strict=False, time_unit="us").dt.replace_time_zone(None)
    return pl.coalesce([*parsed, aware])


def read_occupancy(path: Path, *, id_col: str, time_col: str, capacity_col: str | None = None,
                   occupied_col: str | None = None, free_col: str | None = None,
                   names: list[str] | None = None, freq: str = "30min", separator: str = ",",
                   flat_days: float = 7.0) -> OccupancyData:
    """Read and clean an occupancy file into regular series on a grid of ``freq`` slots.

    Args:
        path: CSV file.
        id_col, time_col, capacity_col: column names (``capacity_col`` optional: then the highest reading).
        occupied_col / free_col: exactly one — occupied spaces, or free spaces (occupied = capacity − free).
        names: column names for a file without a header row.
        freq: slot length (polars duration, e.g. ``30min``, ``1h``); readings are rounded to the nearest slot.
        flat_days: a run of identical readings this long (in days of slots) is a stuck counter.
    """
    if (occupied_col is None) == (free_col is None):
        raise InvalidInput("give exactly one of occupied_col and free_col")
    if free_col is not None and capacity_col is None:
        raise InvalidInput("free counts need a capacity column to give occupied spaces")
    if not Path(path).is_file():
        raise NotFound(f"no occupancy file at {path}")
    text = decode_small_file(Path(path)) if Path(path).stat().st_size < 512 << 20 else None
    source: Any = text.encode() if text is not None else path
    try:
        raw = pl.read_csv(source, separator=separator, infer_schema=False, has_header=names is None,
                          new_columns=names, truncate_ragged_lines=True)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise RejectedData(f"cannot read {Path(path).name} as CSV: {exc}") from exc
    raw = raw.rename({c: c.strip() for c in raw.columns})
    wanted = [c for c in (id_col, time_col, capacity_col, occupied_col, free_col) if c]
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise InvalidInput(f"{Path(path).name} has no column {', '.join(missing)} (columns: {raw.columns}"
                           + ("; a file without a header needs names=" if names is None else "") + ")")
    count_col = occupied_col or free_col
    assert count_col is not None

    def number(col: str | None) -> pl.Expr:
        if col is None:
            return pl.lit(None, dtype=pl.Float64)
        return pl.col(col).str.strip_chars().str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)

    frame = raw.select(unique_id=pl.col(id_col).str.strip_chars(), ds=_parse_time(pl.col(time_col)),
                       capacity=number(capacity_col), count=number(count_col))
    report = {"rows_read": raw.height}
    report["bad_time"] = frame.filter(pl.col("ds").is_null() | pl.col("unique_id").is_null()).height
    frame = frame.filter(pl.col("ds").is_not_null() & pl.col("unique_id").is_not_null())
    report["missing_count"] = frame.filter(pl.col("count").is_null() | pl.col("count").is_nan()).height
    frame = frame.filter(pl.col("count").is_not_null() & pl.col("count").is_not_nan())
    report["negative_count"] = frame.filter(pl.col("count") < 0).height
    frame = frame.filter(pl.col("count") >= 0)
    if frame.is_empty():
        raise RejectedData(f"{Path(path).name}: no usable reading left", details=report)

    capacity_ok = pl.col("capacity").is_not_null() & (pl.col("capacity") > 0)
    usual = frame.filter(capacity_ok).group_by("unique_id").agg(usual=pl.col("capacity").mode().max())
    frame = frame.join(usual, on="unique_id", how="left")
    report["capacity_filled"] = frame.filter(~capacity_ok & pl.col("usual").is_not_null()).height
    frame = frame.with_columns(capacity=pl.when(capacity_ok).then(pl.col("capacity")).otherwise(pl.col("usual")))
    if free_col is not None:
        frame = frame.with_columns(count=pl.col("capacity") - pl.col("count")).filter(pl.col("count").is_not_null())
        report["negative_count"] += frame.filter(pl.col("count") < 0).height
        frame = frame.filter(pl.col("count") >= 0)
    never = frame.filter(pl.col("capacity").is_null())["unique_id"].n_unique()
    report["capacity_inferred"] = never
    frame = frame.with_columns(capacity=pl.col("capacity").fill_null(pl.col("count").max().over("unique_id")))
    report["above_capacity"] = frame.filter(pl.col("count") > pl.col("capacity")).height
    frame = frame.with_columns(y=pl.min_horizontal("count", "capacity"))

    frame = frame.with_columns(ds=pl.col("ds").dt.round(f"{freq_seconds(freq)}s"))
    before = frame.height
    frame = frame.sort(["unique_id", "ds"], maintain_order=True).unique(["unique_id", "ds"], keep="last",
                                                                        maintain_order=True)
    report["duplicate_readings"] = before - frame.height
    grid = Grid.from_times(frame["ds"])
    off_grid = frame.filter(~pl.col("ds").dt.time().is_in(pl.Series(grid.slots).implode())).height
    report["off_grid_readings"] = off_grid
    frame = frame.filter(pl.col("ds").dt.time().is_in(pl.Series(grid.slots).implode()))
    series, counts = regularise(frame.select("unique_id", "ds", "y", "capacity"), grid, flat_days=flat_days)
    report.update(counts)
    log.info("occupancy %s: %s", Path(path).name, report)
    return OccupancyData(series, grid, freq, report)
