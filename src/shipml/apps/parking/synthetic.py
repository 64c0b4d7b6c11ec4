"""SYNTHETIC Madrid SER tickets in exactly the real published format, for offline demos, tests and benchmarks.

Not observed data: every file this module writes is named ``SYNTHETIC_ser_tickets_<year>Q<q>.csv``.

Calibration: each neighbourhood's capacity zone and spaces come from the real spaces file
(:func:`~shipml.apps.parking.spaces.spaces_per_neighbourhood`); tickets are only bought while parking is regulated
(:mod:`~shipml.apps.parking.calendar`: weekdays 09–21, Saturdays and August 09–15, never on Sundays or Madrid
holidays). The mean share of spaces taken follows a fixed hourly profile (a morning and an evening peak), lower
on Saturdays and in August, times a per-neighbourhood level and a per-day jolt; arrivals are Poisson with rate
``occupied share × spaces × scale / mean duration`` (Little's law). Durations are 5-minute multiples up to 2 h
(blue) or 1 h (green visitors). Paid time left at the end of a regulated day carries over to 09:00 on the next
regulated day, as a meter does. Same arguments and seed → same bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from shipml.apps.parking.calendar import regulated_window
from shipml.core.errors import InvalidInput

log = logging.getLogger(__name__)

HEADER = ("fecha_operacion", "fecha_inicio", "fecha_fin", "codigo_distrito", "distrito", "codigo_barrio", "barrio",
          "tipo_zona", "tipo_permiso", "parquimetro", "minutos_tique", "importe_tique")
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# mean share of the capacity taken, by hour of a regulated day (09 … 20)
WEEKDAY_PROFILE = np.array([0.42, 0.62, 0.72, 0.76, 0.70, 0.52, 0.48, 0.58, 0.68, 0.71, 0.63, 0.48])
SATURDAY_PROFILE = np.array([0.35, 0.52, 0.62, 0.63, 0.55, 0.45])
AUGUST_FACTOR = 0.6
PRICE_PER_MINUTE = {"AZUL": 0.0165, "VERDE": 0.0415}
MAX_MINUTES = {"AZUL": 120, "VERDE": 60}


@dataclass(frozen=True)
class SimulatedFile:
    path: Path
    tickets: int
    synthetic: bool = True


def _quarters(first: date, last: date) -> list[tuple[date, date]]:
    out, cursor = [], first
    while cursor <= last:
        q_end_month = ((cursor.month - 1) // 3 + 1) * 3
        q_end = (date(cursor.year + (q_end_month == 12), q_end_month % 12 + 1, 1) - timedelta(days=1))
        out.append((cursor, min(q_end, last)))
        cursor = q_end + timedelta(days=1)
    return out


def _cells(first: date, last: date, per: pl.DataFrame, scale: float, rng: np.random.Generator,
           level: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per (day, hour, neighbourhood) cell: start of the hour, its window end and the next regulated morning."""
    starts, ends, nexts, lam_rows = [], [], [], []
    day = first
    capacity = per["capacity"].to_numpy().astype(float)
    mean_minutes = np.where(per["zone"].to_numpy() == "AZUL", 62.5, 32.5)
    while day <= last:
        window = regulated_window(day)
        if window is not None:
            short = day.weekday() == 5 or day.month == 8
            profile = SATURDAY_PROFILE if day.weekday() == 5 else WEEKDAY_PROFILE[: 6 if short else 12]
            factor = AUGUST_FACTOR if day.month == 8 else 1.0
            nxt = day + timedelta(days=1)
            while regulated_window(nxt) is None:
                nxt += timedelta(days=1)
            jolt = rng.lognormal(0.0, 0.08, size=len(capacity))
            for h, share in enumerate(profile):
                occupied = np.clip(share * factor * level * jolt, 0, 0.98) * capacity * scale
                lam_rows.append(occupied / (mean_minutes / 60.0))
                starts.append(datetime.combine(day, window[0].time()) + timedelta(hours=h))
                ends.append(window[1])
                nexts.append(datetime.combine(nxt, window[0].time()))
        day += timedelta(days=1)
    return (np.array(starts, dtype="datetime64[s]"), np.array(ends, dtype="datetime64[s]"),
            np.array(nexts, dtype="datetime64[s]"), np.array(lam_rows))


def simulate_quarter(first: date, last: date, per: pl.DataFrame, *, scale: float, seed: int) -> pl.DataFrame:
    """The tickets of ``first``…``last`` (one frame, real column names, not yet formatted)."""
    rng = np.random.default_rng([seed, first.toordinal()])
    level = np.random.default_rng([seed, 0]).lognormal(0.0, 0.2, size=per.height)  # fixed per neighbourhood
    hour_start, window_end, next_morning, lam = _cells(first, last, per, scale, rng, level)
    if len(hour_start) == 0:
        return pl.DataFrame()
    counts = rng.poisson(lam)  # cells × neighbourhoods
    cell, nb = np.nonzero(counts)
    reps = counts[cell, nb]
    cell, nb = np.repeat(cell, reps), np.repeat(nb, reps)
    n = len(cell)
    zones = per["zone"].to_numpy()[nb]
    max_min = np.where(zones == "AZUL", MAX_MINUTES["AZUL"], MAX_MINUTES["VERDE"])
    minutes = 5 * rng.integers(1, max_min // 5 + 1, size=n)
    start = hour_start[cell] + rng.integers(0, 3600, size=n).astype("timedelta64[s]")
    end = start + (minutes * 60).astype("timedelta64[s]")
    over = end > window_end[cell]
    end = np.where(over, next_morning[cell] + (end - window_end[cell]), end)
    operation = start - rng.integers(0, 30, size=n).astype("timedelta64[s]")
    ids = per["neighbourhood_id"].to_numpy()[nb]
    names = per["neighbourhood"].to_numpy()[nb]
    as_code = rng.random(n) < 0.05  # some rows name the barrio by its code, as in the real files
    barrio = np.where(as_code, np.char.add(np.char.add(np.char.zfill((ids // 100).astype(str), 2), "-"),
                                          np.char.zfill((ids % 100).astype(str), 2)), names)
    order = np.argsort(start, kind="stable")
    frame = pl.DataFrame({
        "fecha_operacion": operation.astype("datetime64[us]"), "fecha_inicio": start.astype("datetime64[us]"),
        "fecha_fin": end.astype("datetime64[us]"),
        "codigo_distrito": ids // 100, "distrito": per["district"].to_numpy()[nb], "codigo_barrio": ids % 100,
        "barrio": barrio, "tipo_zona": zones,
        "tipo_permiso": np.where(zones == "AZUL", "ROTACION", "VISITANTE"),
        "parquimetro": 1000 + ids * 10 + rng.integers(0, 10, size=n),
        "minutos_tique": minutes,
        "importe_tique": np.round(minutes * np.where(zones == "AZUL", PRICE_PER_MINUTE["AZUL"],
                                                     PRICE_PER_MINUTE["VERDE"]), 2),
    })
    return frame[order]


def write_tickets(frame: pl.DataFrame, path: Path) -> None:
    """Write tickets as the city does: ``;``, UTF-8, ``YYYY-MM-DD HH:MM:SS``, decimal comma in amounts."""
    out = frame.with_columns(
        pl.col("fecha_operacion", "fecha_inicio", "fecha_fin").dt.strftime(DATETIME_FORMAT),
        pl.col("importe_tique").map_batches(lambda s: s.cast(pl.String).str.replace(".", ",", literal=True),
                                            return_dtype=pl.String),
    ).select(HEADER)
    out.write_csv(path, separator=";", line_terminator="\n")


def simulate_tickets(out_dir: Path, first: date, last: date, per_neighbourhood: pl.DataFrame, *,
                     scale: float = 0.05, seed: int = 0) -> list[SimulatedFile]:
    """Write SYNTHETIC ticket files, one per calendar quarter, from ``first`` to ``last`` inclusive.

    Args:
        out_dir: folder for the files (created).
        first, last: the days to simulate.
        per_neighbourhood: spaces per neighbourhood (``neighbourhood_id``, ``neighbourhood``, ``district``,
            ``capacity``, ``zone``).
        scale: share of the spaces' visitors simulated (1.0 ≈ every space used as the profile says).
        seed: the same seed gives the same files.
    """
    if last < first:
        raise InvalidInput(f"nothing to simulate: {last} is before {first}")
    if not 0 < scale <= 10:
        raise InvalidInput(f"scale must be in (0, 10], not {scale}")
    per = per_neighbourhood.filter(pl.col("capacity") > 0).sort("neighbourhood_id")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for q_first, q_last in _quarters(first, last):
        frame = simulate_quarter(q_first, q_last, per, scale=scale, seed=seed)
        path = out_dir / f"SYNTHETIC_ser_tickets_{q_first.year}Q{(q_first.month - 1) // 3 + 1}.csv"
        if frame.is_empty():
            frame = pl.DataFrame(schema=dict.fromkeys(HEADER, pl.String))
            frame.write_csv(path, separator=";")
        else:
            write_tickets(frame, path)
        files.append(SimulatedFile(path, frame.height))
        log.info("synthetic tickets: %s (%d tickets)", path.name, frame.height)
    return files
