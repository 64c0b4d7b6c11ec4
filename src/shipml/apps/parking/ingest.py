"""Parking ingest: SER tickets (real files, or simulated ones labelled SYNTHETIC) → hourly active tickets per
neighbourhood → one versioned dataset (:mod:`shipml.core.datasets`).

Rows are rejected by reason (:mod:`.tickets`) and counted in the result. A refresh that keeps no row, or rejects
more than ``SHIPML_PARKING_MAX_REJECTED_SHARE`` of them, is recorded as ``rejected`` and stores nothing: the last
good version keeps serving.

The dataset has one row per neighbourhood and UTC hour: ``neighbourhood_id``, ``hour`` (local wall clock),
``hour_utc``, ``active`` (tickets of its capacity zone), ``spaces`` (its blue spaces, else green) and ``capacity``
(what ``active`` is counted against: ``spaces`` for real tickets; for simulated ones ``spaces × scale × overlap``:
the simulator sells tickets for a ``scale`` share of the spaces, and a ticket of mean length d minutes is active in
``1 + d/60`` clock hours on average, so the hourly count of a full street is ``1 + 60/d`` times its spaces).
"""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from shipml.apps.parking import DATASET  # the app's declaration names it
from shipml.apps.parking.aggregation import active_tickets_by_hour
from shipml.apps.parking.bundle import reference
from shipml.apps.parking.settings import SYNTHETIC, settings
from shipml.apps.parking.spaces import neighbourhood_names, neighbourhood_occupancy
from shipml.apps.parking.synthetic import MAX_MINUTES, simulate_tickets
from shipml.core import datasets
from shipml.core.errors import RejectedData
from shipml.core.progress import Progress, no_progress
from shipml.settings import get_settings

log = logging.getLogger(__name__)

SIDECAR = "SYNTHETIC_simulation.json"
SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "neighbourhood_id": pl.Int32, "hour": pl.Datetime("us"), "hour_utc": pl.Datetime("us", "UTC"),
    "active": pl.Int64, "spaces": pl.Int64, "capacity": pl.Float64}


def simulate(out_dir: Path | None = None, *, weeks: int | None = None, last: date | None = None,
             scale: float | None = None, seed: int = 0) -> Path:
    """Write SYNTHETIC ticket files for the ``weeks`` ending ``last`` (default: yesterday); returns the folder."""
    s = settings()
    weeks, scale = weeks or s.synthetic_weeks, scale or s.synthetic_scale
    last = last or date.today() - timedelta(days=1)
    out_dir = out_dir or get_settings().resolved_home / "parking" / "synthetic"
    for old in out_dir.glob("SYNTHETIC_*"):
        old.unlink()
    files = simulate_tickets(out_dir, last - timedelta(days=7 * weeks - 1), last, reference().per_neighbourhood,
                             scale=scale, seed=seed)
    (out_dir / SIDECAR).write_text(json.dumps({"scale": scale, "seed": seed, "first": str(files and last -
                                               timedelta(days=7 * weeks - 1)), "last": str(last)}))
    return out_dir


def _files(source: Path) -> tuple[list[Path], bool, float]:
    files = sorted(source.glob("*.csv")) if source.is_dir() else [source]
    synthetic = bool(files) and all(f.name.startswith("SYNTHETIC_") for f in files)
    sidecar = (source if source.is_dir() else source.parent) / SIDECAR
    scale = float(json.loads(sidecar.read_text())["scale"]) if synthetic and sidecar.exists() else 1.0
    return files, synthetic, scale


def occupancy(source: Path, progress: Progress = no_progress) -> tuple[pl.DataFrame, dict[str, Any], bool]:
    """Ticket files → the hourly dataset frame, the rejection report, and whether the data are synthetic."""
    from shipml.apps.parking.tickets import read_tickets

    ref = reference()
    files, synthetic, scale = _files(source)
    progress(0.2, f"reading {len(files)} ticket file(s)")
    names = neighbourhood_names(ref.per_neighbourhood)
    if on_spark := settings().engine == "spark":  # SHIPML_PARKING_ENGINE=spark: the same counts, on Spark
        from shipml.apps.parking.spark_tickets import SparkTickets

        counted = SparkTickets.read(files, names)
        report, tickets = counted.report.to_dict(), counted.tickets
    else:
        imported = read_tickets(files, names)
        report, tickets = imported.report.to_dict(), imported.tickets
    rejected_share = report["rows_rejected"] / max(report["rows_read"], 1)
    if report["rows_kept"] == 0 or rejected_share > settings().max_rejected_share:
        raise RejectedData(f"{source.name}: {report['rows_rejected']:,} of {report['rows_read']:,} rows rejected "
                           f"({', '.join(f'{k} {v:,}' for k, v in report['rejected'].items()) or 'none kept'}); "
                           "the last good data keep serving", details=report)
    progress(0.6, f"counting {tickets:,} tickets per hour")
    active = counted.active() if on_spark else active_tickets_by_hour(imported.kinds)
    per = ref.per_neighbourhood.with_columns(overlap=pl.col("zone").replace_strict(
        {zone: 1 + 60 / ((5 + minutes) / 2) for zone, minutes in MAX_MINUTES.items()}, return_dtype=pl.Float64)
        if synthetic else pl.lit(1.0))
    frame = neighbourhood_occupancy(active, ref.per_neighbourhood).join(
        per.select("neighbourhood_id", "overlap"), on="neighbourhood_id").select(
        "neighbourhood_id", "hour", "hour_utc", "active", spaces="capacity",
        capacity=(pl.col("capacity") * scale * pl.col("overlap")).round(0).clip(lower_bound=1.0))
    return frame.cast(SCHEMA).sort(["neighbourhood_id", "hour_utc"]), report, synthetic  # type: ignore[arg-type]


def refresh(source: str | None = None, progress: Progress = no_progress) -> dict[str, Any]:
    """One ingest: stored, unchanged or (raised, after recording why) rejected."""
    source = source or settings().source
    progress(0.02, f"ingesting {source}")
    path = simulate() if source == SYNTHETIC else Path(source).expanduser()

    def read() -> datasets.Incoming:
        frame, report, synthetic = occupancy(path, progress)
        return datasets.Incoming(frame, str(path), synthetic,
                                 {"neighbourhoods": frame["neighbourhood_id"].n_unique(), "report": report})

    refreshed = datasets.refresh(DATASET, str(path), read)
    progress(1.0, f"{refreshed.status}: version {refreshed.snapshot.version}")
    return refreshed.describe()
