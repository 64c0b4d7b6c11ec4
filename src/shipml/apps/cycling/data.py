"""Cycling sources and the ingest: read results and riders (synthetic, scraped from procyclingstats.com, or
a folder laid out like ``shared/data/cycling``), validate them, and store both tables as new dataset
versions — or reject them and keep serving the last good ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from shipml.apps.cycling import DATASET as DATASET_RESULTS  # the app's declaration names it
from shipml.apps.cycling import scraper
from shipml.apps.cycling.importers import load_shared
from shipml.apps.cycling.nationality import fill_from_rider_pages
from shipml.apps.cycling.pages_source import PageSource
from shipml.apps.cycling.schema import validate_results, validate_riders
from shipml.apps.cycling.settings import settings
from shipml.apps.cycling.synthetic import synthetic_results
from shipml.core import datasets
from shipml.core.errors import RejectedData, SourceUnavailable
from shipml.core.progress import Progress, no_progress

DATASET_RIDERS = "cycling.riders"
SYNTHETIC = "synthetic"
SCRAPE = "scrape"
# What `ingest("scrape")` fetches: three seasons of a spread of PCS races (slugs), one-day and stage races
# across classes. A first run makes roughly 600 race-page and 1,500 rider-page requests (~35 min at
# 1 request/s); reruns read the page cache.
DEFAULT_YEARS: tuple[int, ...] = (2023, 2024, 2025)
DEFAULT_RACES: tuple[str, ...] = (
    # grand tours and one-week WorldTour stage races
    "tour-de-france", "giro-d-italia", "vuelta-a-espana", "paris-nice", "tirreno-adriatico",
    "volta-a-catalunya", "itzulia-basque-country", "tour-de-romandie", "dauphine", "tour-de-suisse",
    "tour-de-pologne", "uae-tour",
    # monuments and WorldTour one-day races
    "milano-sanremo", "ronde-van-vlaanderen", "paris-roubaix", "liege-bastogne-liege", "il-lombardia",
    "e3-harelbeke", "gent-wevelgem", "amstel-gold-race", "la-fleche-wallone", "strade-bianche",
    "eschborn-frankfurt", "bretagne-classic", "gp-quebec", "gp-montreal",
    # ProSeries and class 1/2 races
    "4-jours-de-dunkerque", "tour-of-britain", "coppa-bernocchi", "gran-piemonte", "czech-tour",
    "paris-camembert",
)



@dataclass(frozen=True)
class Read:
    """Both validated tables of one source, how to label them, and what was skipped on the way."""

    results: pl.DataFrame
    riders: pl.DataFrame
    source: str
    synthetic: bool
    skipped: dict[str, int] = field(default_factory=dict)


def read_source(source: str, progress: Progress = no_progress, pages: PageSource | None = None) -> Read:
    """Read and validate both tables from ``"synthetic"``, ``"scrape"`` or a folder; with ``rider_pages`` set, a
    folder's riders without a nationality get it from their procyclingstats.com pages (``pages``: where pages come
    from, by default the network through the cache).

    Raises:
        RejectedData: the data failed validation.
        SourceUnavailable: no such folder, or the network failed for good while scraping.
    """
    if source == SYNTHETIC:
        results, riders = synthetic_results()
        return Read(validate_results(results), validate_riders(riders), SYNTHETIC, True)
    if source == SCRAPE:
        races = [(race, year) for race in DEFAULT_RACES for year in DEFAULT_YEARS]
        scraped = scraper.scrape(races, progress=lambda f, m: progress(0.05 + 0.8 * f, m))
        if scraped.results.is_empty():
            raise RejectedData(f"the scrape found no results ({len(scraped.missing)} pages missing)")
        return Read(validate_results(scraped.results), validate_riders(scraped.riders), "pcs:scrape", False,
                    {"missing_pages": len(scraped.missing), "unparsed_pages": len(scraped.unparsed)})
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise SourceUnavailable(f"no folder at {folder} (expected 'synthetic', 'scrape' or a folder laid out "
                                "like shared/data/cycling)")
    results, riders = load_shared(folder, lambda f, m: progress(0.05 + 0.8 * f, m))
    skipped: dict[str, int] = {}
    if settings().rider_pages:
        try:
            riders, done = fill_from_rider_pages(riders, pages, lambda f, m: progress(0.85 + 0.04 * f, m))
            riders = validate_riders(riders)
        except SourceUnavailable:  # offline: the folder's own nationalities; the cached pages are kept for next time
            done = {"missing": int(riders["nationality"].null_count())}
        skipped = {"riders_without_nationality": done["missing"]}
    return Read(results, riders, str(folder.resolve()), False, skipped)


def ingest(source: str, progress: Progress = no_progress) -> dict[str, object]:
    """One ingest of both tables. Returns what happened; raises (after recording why) when nothing could
    be stored."""
    def read() -> dict[str, datasets.Incoming]:
        progress(0.02, f"reading {source}")
        both = read_source(source, progress)
        progress(0.9, "storing snapshots")
        return {DATASET_RESULTS: datasets.Incoming(both.results, both.source, both.synthetic, both.skipped),
                DATASET_RIDERS: datasets.Incoming(both.riders, both.source, both.synthetic)}

    refreshed = datasets.refresh((DATASET_RESULTS, DATASET_RIDERS), source, read)
    results, riders = (refreshed.snapshots[name] for name in (DATASET_RESULTS, DATASET_RIDERS))
    progress(1.0, f"{refreshed.status}: {results.rows} results, {riders.rows} riders")
    return {"status": refreshed.status, **refreshed.details,
            **{name.split(".")[1]: {"status": "stored" if refreshed.created[name] else "unchanged",
                                    **refreshed.snapshots[name].describe()} for name in refreshed.snapshots}}


def load() -> tuple[datasets.Snapshot, pl.DataFrame, pl.DataFrame]:
    """The newest results snapshot, its results and the newest riders table."""
    snap = datasets.require_latest(DATASET_RESULTS)
    riders = datasets.require_latest(DATASET_RIDERS)
    return snap, snap.read(), riders.read()
