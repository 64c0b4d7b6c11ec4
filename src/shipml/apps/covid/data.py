"""Covid sources and the refresh: fetch a CSV export (URL, path or synthetic), clean and validate it,
store it as a new dataset version, or reject it and keep serving the last good one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from shipml.apps.covid import DATASET  # the app's declaration names it
from shipml.apps.covid.cleaning import check_plausible, parse_export, validate_against_previous
from shipml.apps.covid.synthetic import synthetic_export
from shipml.core import datasets, sources
from shipml.core.errors import SourceUnavailable
from shipml.core.progress import Progress, no_progress

log = logging.getLogger(__name__)

SYNTHETIC = "synthetic"



@dataclass(frozen=True)
class Fetched:
    raw: bytes
    source: str
    synthetic: bool


def fetch(source: str, timeout: float | None = None) -> Fetched:
    """Read the export from a URL, a local path, or the synthetic generator."""
    if source == SYNTHETIC:
        return Fetched(synthetic_export(), SYNTHETIC, True)
    if sources.is_url(source):
        return Fetched(sources.fetch_url(source, timeout), source, False)
    path = Path(source).expanduser()
    if not path.is_file():  # said without the folder: the message is public (refreshes, job records)
        raise SourceUnavailable(f"no file at {sources.public_source(str(path))}")
    return Fetched(path.read_bytes(), str(path.resolve()), False)


def refresh(source: str, progress: Progress = no_progress) -> dict[str, object]:
    """One refresh. Returns what happened; raises (after recording why) when nothing could be stored."""
    def read() -> datasets.Incoming:
        progress(0.05, f"fetching {sources.public_source(source)}")
        fetched = fetch(source)
        progress(0.35, "parsing and validating")
        previous = datasets.latest(DATASET)
        clean = parse_export(fetched.raw)
        check_plausible(clean)
        if previous is not None and not previous.synthetic and not fetched.synthetic:
            validate_against_previous(clean, previous.read())
        progress(0.75, "storing snapshot")
        return datasets.Incoming(clean, fetched.source, fetched.synthetic)

    refreshed = datasets.refresh(DATASET, source, read)
    progress(1.0, f"{refreshed.status}: version {refreshed.snapshot.version}, {refreshed.snapshot.rows} days")
    return refreshed.describe()


def load_clean() -> tuple[datasets.Snapshot, pl.DataFrame]:
    snap = datasets.require_latest(DATASET)
    return snap, snap.read()
