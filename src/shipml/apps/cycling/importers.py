"""Read the saved PCS sources (a folder laid out like ``shared/data/cycling``) into the two tables.

* ``pcs_results_md/*.md`` — race result pages as Markdown (Firecrawl output of procyclingstats.com), parsed
  by :mod:`.result_pages`: the page's own result (one-day race or stage) and, for a stage race, the GC
  (``kind="gc"``). The pages carry no nationality; their Age column (age on race day) pins down many riders'
  birth years.
* ``pcs_tt_2020_2025/`` — time-trial results (races.csv, results.csv, riders.csv with country names).
* ``pcs_riders_info/riders_info.csv`` — a 2022 snapshot of 9,016 riders: birth date, specialty points.
* ``pcs_html_fixtures/`` — saved PCS pages (the procyclingstats package's): nationalities of the riders their
  result tables, startlists, rankings and rider pages name (:func:`.nationality.read_saved_pages`).

Riders are merged by slug, each field from the best source that has it (scraper > TT riders.csv, 2025 >
riders_info, 2022 > result pages); only riders with at least one result are kept. Results are
deduplicated by (race, year, kind, stage, rider), preferring scraped, then Markdown, then TT rows.
"""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from shipml.apps.cycling.nationality import SAVED_PAGES, read_saved_pages
from shipml.apps.cycling.result_pages import birth_years_from_ages, read_results_pages
from shipml.apps.cycling.schema import (
    COUNTRY_CODES,
    OBSERVATION_SCHEMA,
    POINT_COLUMNS,
    RESULT_KEY,
    RESULTS_SCHEMA,
    combine_results,
    conform,
    merge_riders,
    validate_results,
    validate_riders,
)
from shipml.core.errors import RejectedData
from shipml.core.progress import Progress, no_progress

log = logging.getLogger(__name__)

MD_FOLDER, TT_FOLDER, INFO_FILE = "pcs_results_md", "pcs_tt_2020_2025", "pcs_riders_info/riders_info.csv"
_TT_RACES = ("race_title", "date", "class", "url")
_TT_RESULTS = ("rider_url", "result", "race_url")
_TT_RIDERS = ("full_name", "nationality", "birth_year", "onedayraces", "gc", "tt", "sprint", "climber", "url")
_INFO = ("name", "DOB", "one day races", "GC", "TT", "sprint", "climber", "link")
_RACE_URL = r"/race/([^/]+)/(\d{4})/([^/?#]+)"



def load_shared(folder: Path, progress: Progress | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Import every source found in ``folder``; return validated (results, riders).

    Raises:
        RejectedData: no source in the folder, or a source that fails its checks (the message says which
            file and why).
    """
    progress = progress or no_progress
    folder = Path(folder)
    results: list[pl.DataFrame] = []
    observations: list[pl.DataFrame] = []
    md = folder / MD_FOLDER
    if md.is_dir():
        pages = read_results_pages(md, lambda f, m: progress(0.8 * f, m))
        results.append(pages.results)
        observations.append(_md_observations(pages.seen))
    if (folder / TT_FOLDER).is_dir():
        progress(0.82, "reading time-trial results")
        tt_results, tt_riders = read_time_trials(folder / TT_FOLDER)
        results.append(tt_results)
        observations.append(tt_riders)
    if not results:
        raise RejectedData(f"no cycling results in {folder}: expected {MD_FOLDER}/ or {TT_FOLDER}/")
    if (folder / INFO_FILE).is_file():
        progress(0.88, "reading riders_info.csv")
        observations.append(read_riders_info(folder / INFO_FILE))
    if (folder / SAVED_PAGES).is_dir():
        progress(0.9, "reading nationalities from the saved PCS pages")
        observations.append(read_saved_pages(folder / SAVED_PAGES))
    progress(0.94, "merging riders")
    combined = combine_results(results)
    riders = merge_riders(pl.concat(observations, how="vertical"), combined)
    progress(1.0, f"{combined.height} results, {riders.height} riders")
    return validate_results(combined), validate_riders(riders)


def read_time_trials(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """pcs_tt_2020_2025 → (results, rider observations). ``results.csv`` rows join ``races.csv`` by URL."""
    races = _read_csv(folder / "races.csv", _TT_RACES)
    rows = _read_csv(folder / "results.csv", _TT_RESULTS)
    people = _read_csv(folder / "riders.csv", _TT_RIDERS)
    races = races.with_columns(
        parts=pl.col("url").str.extract_groups(_RACE_URL),
        race_name=pl.col("race_title").str.replace(r"\s+\d{4}\b.*$", ""),
    ).unnest("parts").rename({"1": "race", "2": "year", "3": "page"})
    _no_nulls("races.csv", races, "race", "the url is not race/<slug>/<year>/<page>")
    joined = rows.with_columns(rider=_rider_slug("rider_url")).join(
        races, left_on="race_url", right_on="url", how="left")
    _no_nulls("results.csv", joined, "race", "the race_url is not in races.csv")
    _no_nulls("results.csv", joined, "rider", "the rider_url is not a PCS rider URL")
    stage_race = pl.col("page") != "result"
    results = joined.select(
        "race", "race_name", pl.col("year").cast(pl.Int32),
        kind=pl.when(stage_race).then(pl.lit("stage")).otherwise(pl.lit("one_day")),
        stage=pl.when(stage_race).then(pl.col("page")),
        race_class="class", date=_to_date("results.csv", joined, "date"), rider="rider",
        rank=_to_int("results.csv", joined, "result"), status=pl.lit("finished"), team=pl.lit(None, pl.String),
        time_trial=pl.lit(True), source=pl.lit("pcs_tt"))
    duplicated = results.filter(pl.struct(list(RESULT_KEY)).is_duplicated()).height
    if duplicated:
        log.warning("results.csv: %d rows repeat a rider in one race; keeping the first of each", duplicated)
    results = results.unique(list(RESULT_KEY), keep="first", maintain_order=True)
    unknown = sorted(set(people["nationality"].drop_nulls()) - set(COUNTRY_CODES))
    if unknown:
        log.warning("riders.csv: no ISO code for countries %s; their nationality is left empty", unknown)
    riders = people.select(
        rider=_rider_slug("url"), name=pl.col("full_name").str.strip_chars(),
        nationality=pl.col("nationality").replace_strict(COUNTRY_CODES, default=None),
        birth_date=pl.lit(None, pl.Date), birth_year=_to_int("riders.csv", people, "birth_year"),
        team=pl.lit(None, pl.String),
        **{c: _to_float("riders.csv", people, s) for c, s in
           zip(POINT_COLUMNS, ("onedayraces", "gc", "tt", "sprint", "climber"), strict=True)},
        source=pl.lit("pcs_tt"))
    return conform(results, RESULTS_SCHEMA), conform(riders, OBSERVATION_SCHEMA)


def read_riders_info(path: Path) -> pl.DataFrame:
    """riders_info.csv (2022 snapshot) → rider observations: name, birth date, specialty points."""
    info = _read_csv(path, _INFO)
    frame = info.select(
        rider=_rider_slug("link"), name=pl.col("name").str.strip_chars(), nationality=pl.lit(None, pl.String),
        birth_date=_to_date(path.name, info, "DOB"), birth_year=pl.lit(None, pl.Int32), team=pl.lit(None, pl.String),
        **{c: _to_float(path.name, info, s) for c, s in
           zip(POINT_COLUMNS, ("one day races", "GC", "TT", "sprint", "climber"), strict=True)},
        source=pl.lit("pcs_riders_info"))
    _no_nulls(path.name, frame, "rider", "the link is not rider/<slug>")
    return conform(frame, OBSERVATION_SCHEMA)


def _md_observations(seen: pl.DataFrame) -> pl.DataFrame:
    """Names from the result pages, plus birth years pinned down by the riders' ages on race days."""
    names = seen.sort("date", nulls_last=False).group_by("rider").agg(pl.col("name").drop_nulls().last())
    frame = names.join(birth_years_from_ages(seen), on="rider", how="left").with_columns(
        nationality=pl.lit(None, pl.String), birth_date=pl.lit(None, pl.Date), team=pl.lit(None, pl.String),
        **{c: pl.lit(None, pl.Float64) for c in POINT_COLUMNS}, source=pl.lit("pcs_md"))
    return conform(frame, OBSERVATION_SCHEMA)


def _read_csv(path: Path, required: tuple[str, ...]) -> pl.DataFrame:
    """Every column as text; rejects a missing file, an unreadable CSV or a missing required column."""
    if not path.is_file():
        raise RejectedData(f"{path.name}: file not found in {path.parent}")
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise RejectedData(f"{path.name}: not a readable CSV ({exc})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise RejectedData(f"{path.name}: missing column(s) {missing}", details={"columns": frame.columns})
    return frame


def _rider_slug(column: str) -> pl.Expr:
    return pl.col(column).str.extract(r"(?:^|/)rider/([^/?#\s]+)")


def _to_int(name: str, frame: pl.DataFrame, column: str) -> pl.Series:
    return _strict(name, frame, column, r"^\s*-?\d+(\.0+)?\s*$", pl.col(column).str.strip_chars()
                   .cast(pl.Float64).cast(pl.Int32))


def _to_float(name: str, frame: pl.DataFrame, column: str) -> pl.Series:
    return _strict(name, frame, column, r"^\s*-?\d+(\.\d+)?\s*$", pl.col(column).str.strip_chars().cast(pl.Float64))


def _to_date(name: str, frame: pl.DataFrame, column: str) -> pl.Series:
    return _strict(name, frame, column, r"^\d{4}-\d{2}-\d{2}$",
                   pl.col(column).str.strptime(pl.Date, "%Y-%m-%d", strict=False))


def _strict(name: str, frame: pl.DataFrame, column: str, pattern: str, convert: pl.Expr) -> pl.Series:
    """Convert a text column; empty is null; a value that does not fit ``pattern`` (or converts to
    nothing, like 2022-02-30) is rejected with its row."""
    text = frame[column].str.strip_chars().replace("", None)
    converted = frame.with_columns(text).select(convert.alias(column)).to_series()
    bad = (text.is_not_null() & (~text.str.contains(pattern) | converted.is_null())).arg_true()
    if len(bad):
        row = int(bad[0])
        raise RejectedData(f"{name}: column '{column}' row {row + 1}: {text[row]!r} is not valid",
                           details={"column": column, "row": row + 1, "value": text[row]})
    return converted


def _no_nulls(name: str, frame: pl.DataFrame, column: str, why: str) -> None:
    bad = frame[column].is_null().arg_true()
    if len(bad):
        raise RejectedData(f"{name}: row {int(bad[0]) + 1}: {why}", details={"rows": len(bad)})
