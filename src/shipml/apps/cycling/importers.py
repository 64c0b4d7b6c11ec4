"""Read the saved PCS sources (a folder laid out like ``shared/data/cycling``) into the two tables.

* ``pcs_results_md/*.md`` — race result pages as Markdown (Firecrawl output of procyclingstats.com): race,
  year and class in the header (``# 2024 » 111th Tour de France (2.UWT)``), the date under "Race
  information", then tables. The first table is the page's own result (a one-day race, or the final stage
  of a stage race); a stage race page also holds the general classification (the first later table with
  ``Prev`` and ``Time`` columns), imported as ``kind="gc"``. The Rnk column holds a rank or a status:
  DNF/DNS/OTL/DSQ as such, a struck-through rank (``~~93~~``, result annulled) as DSQ, DF (finished, no
  rank) as finished without a rank; NR (no result, e.g. a neutralised stage) rows are skipped. The pages
  carry no nationality; their Age column (age on race day) pins down many riders' birth years.
* ``pcs_tt_2020_2025/`` — time-trial results (races.csv, results.csv, riders.csv with country names).
* ``pcs_riders_info/riders_info.csv`` — a 2022 snapshot of 9,016 riders: birth date, specialty points.

Riders are merged by slug, each field from the best source that has it (scraper > TT riders.csv, 2025 >
riders_info, 2022 > result pages); only riders with at least one result are kept. Results are
deduplicated by (race, year, kind, stage, rider), preferring scraped, then Markdown, then TT rows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl

from shipml.apps.cycling.schema import (
    COUNTRY_CODES,
    OBSERVATION_SCHEMA,
    POINT_COLUMNS,
    RESULT_KEY,
    RESULTS_SCHEMA,
    combine_results,
    conform,
    display_name,
    merge_riders,
    validate_results,
    validate_riders,
)
from shipml.core.errors import RejectedData

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
MD_FOLDER, TT_FOLDER, INFO_FILE = "pcs_results_md", "pcs_tt_2020_2025", "pcs_riders_info/riders_info.csv"
_TT_RACES = ("race_title", "date", "class", "url")
_TT_RESULTS = ("rider_url", "result", "race_url")
_TT_RIDERS = ("full_name", "nationality", "birth_year", "onedayraces", "gc", "tt", "sprint", "climber", "url")
_INFO = ("name", "DOB", "one day races", "GC", "TT", "sprint", "climber", "link")
_RACE_URL = r"/race/([^/]+)/(\d{4})/([^/?#]+)"
_H1 = re.compile(r"^#\s+(\d{4})\s+»\s+(.+?)\s+\(([^()]+)\)$")
_BREADCRUMB = re.compile(r"^\[[^\]]+\]\(https?://(?:www\.)?procyclingstats\.com/race/([^/)\s]+)\)\s+»")
_STAGE_TAB = re.compile(r"^- \[STAGE\]\(https?://[^)]*/race/[^/]+/\d{4}/([^/)\s]+)\)")
_STAGE_TITLE = re.compile(r"^Stage\s+(\d+[a-z]?)\b", re.IGNORECASE)
_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th)\s+")
_CELL = re.compile(r"(?<!\\)\|")
_RIDER_LINK = re.compile(r"\[([^\]]*)\]\([^)\s]*/rider/([^/)\s?#]+)[^)]*\)")
_LINK_TEXT = re.compile(r"\[([^\]]*)\]\(")
_STRUCK = re.compile(r"~~\d+~~")
_SEEN_SCHEMA: dict[str, pl.DataType] = {"rider": pl.String(), "name": pl.String(), "team": pl.String(),
                                        "age": pl.Int32(), "rank": pl.Int32(), "status": pl.String()}
Table = tuple[list[str], list[list[str]]]


def _quiet(_fraction: float, _message: str) -> None:
    return None


@dataclass(frozen=True)
class ResultPages:
    """Parsed Markdown pages: the results, and who rode each race as the pages write it (name, age)."""

    results: pl.DataFrame
    seen: pl.DataFrame  # rider, name, age, date (of the page's own result table)


def load_shared(folder: Path, progress: Progress | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Import every source found in ``folder``; return validated (results, riders).

    Raises:
        RejectedData: no source in the folder, or a source that fails its checks (the message says which
            file and why).
    """
    progress = progress or _quiet
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
    progress(0.94, "merging riders")
    combined = combine_results(results)
    riders = merge_riders(pl.concat(observations, how="vertical"), combined)
    progress(1.0, f"{combined.height} results, {riders.height} riders")
    return validate_results(combined), validate_riders(riders)


def read_results_pages(folder: Path, progress: Progress | None = None) -> ResultPages:
    """Parse every ``*.md`` page of ``folder`` (see :func:`parse_results_page`)."""
    progress = progress or _quiet
    files = sorted(Path(folder).glob("*.md"))
    if not files:
        raise RejectedData(f"{Path(folder).name}: no .md result pages")
    pages = []
    for number, path in enumerate(files):
        progress(number / len(files), f"parsing {path.name}")
        pages.append(parse_results_page(path.read_text(encoding="utf-8"), path.name))
    return ResultPages(pl.concat([p.results for p in pages]), pl.concat([p.seen for p in pages]))


def parse_results_page(text: str, origin: str = "page") -> ResultPages:
    """One PCS result page as Markdown → its result rows (and the GC for a stage race).

    Raises:
        RejectedData: no race header, no race link, no result table, a stage race without its stage name
            or GC table, a row whose cells do not fit the header, or an unknown status in the Rnk column.
    """
    lines = [line.strip() for line in text.splitlines()]
    header = next(((i, m) for i, line in enumerate(lines) if (m := _H1.match(line))), None)
    if header is None:
        raise RejectedData(f"{origin}: no race header ('# <year> » <race> (<class>)')")
    at, match = header
    year, race_name, race_class = int(match[1]), _ORDINAL.sub("", match[2]).strip(), match[3].strip()
    race = next((m[1] for line in lines[:at] if (m := _BREADCRUMB.match(line))), None)
    if race is None:
        raise RejectedData(f"{origin}: no link to the race before its header ('[<race>](…/race/<slug>) »')")
    tables = _tables(lines)
    if not tables or not {"Rnk", "Rider"} <= set(tables[0][0]):
        raise RejectedData(f"{origin}: no result table (a Markdown table with Rnk and Rider columns)")
    subtitle = next((line for line in lines[at + 1:] if line), "").split("»")[0].strip()
    day = _race_day(lines)
    base = {"race": race, "race_name": race_name, "year": year, "race_class": race_class, "date": day,
            "source": "pcs_md"}
    own = _table_rows(tables[0], origin, "result table")
    if not race_class.startswith("2."):
        frames = [_frame(own, base, kind="one_day", stage=None, time_trial="(ITT)" in subtitle)]
    else:
        stage = next((m[1] for line in lines if (m := _STAGE_TAB.match(line))), None) or _stage_slug(subtitle)
        if stage is None:
            raise RejectedData(f"{origin}: stage race page without a stage name or STAGE link")
        gc = next((t for t in tables[1:] if {"Rnk", "Prev", "Rider", "Time"} <= set(t[0])), None)
        if gc is None:
            raise RejectedData(f"{origin}: stage race page without a GC table (Rnk, Prev, Rider, Time)")
        frames = [_frame(own, base, kind="stage", stage=stage, time_trial="(ITT)" in subtitle),
                  _frame(_table_rows(gc, origin, "GC table"), base, kind="gc", stage=None, time_trial=False)]
    seen = own.select("rider", "name", "age").with_columns(date=pl.lit(day, pl.Date))
    return ResultPages(pl.concat(frames), seen)


def birth_years_from_ages(seen: pl.DataFrame) -> pl.DataFrame:
    """rider → birth_year, for riders whose ages on race days leave a single possible birth year.

    A rider aged ``a`` on day ``d`` was born after ``d − (a+1)`` years and on or before ``d − a`` years;
    intersecting these windows over all their races narrows the birth date. Riders whose window still
    spans a new year, or whose ages contradict each other, get no row.
    """
    windows = seen.drop_nulls(["age", "date"]).with_columns(
        after=pl.col("date").dt.offset_by(pl.format("-{}y", pl.col("age") + 1)),
        latest=pl.col("date").dt.offset_by(pl.format("-{}y", pl.col("age"))))
    narrowed = windows.group_by("rider").agg(pl.col("after").max(), pl.col("latest").min())
    return narrowed.filter(
        (pl.col("after") < pl.col("latest"))
        & (pl.col("after").dt.offset_by("1d").dt.year() == pl.col("latest").dt.year())
    ).select("rider", birth_year=pl.col("latest").dt.year().cast(pl.Int32))


def _tables(lines: list[str]) -> list[Table]:
    """Every Markdown table: (header cells, rows of cells), in page order."""
    tables: list[Table] = []
    i = 0
    while i < len(lines) - 1:
        if lines[i].startswith("|") and lines[i + 1].startswith("| ---"):
            header, rows, i = _cells(lines[i]), [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            tables.append((header, rows))
        else:
            i += 1
    return tables


def _cells(line: str) -> list[str]:
    """Split a table line on unescaped pipes (team names such as "Visma \\| Lease a Bike" hold escaped ones)."""
    parts = _CELL.split(line)
    return [cell.strip() for cell in parts[1:-1 if line.endswith("|") else None]]


def _table_rows(table: Table, origin: str, what: str) -> pl.DataFrame:
    header, rows = table
    out: list[dict[str, object]] = []
    for number, cells in enumerate(rows, start=1):
        if len(cells) == 1:
            continue  # a note row, e.g. "Nicolò Parisini relegated from 12th to 97th"
        if len(cells) != len(header):
            raise RejectedData(f"{origin}: {what} row {number} has {len(cells)} cells, the header {len(header)}")
        cell = dict(zip(header, cells, strict=True))
        link = _RIDER_LINK.search(cell["Rider"])
        rank_status = _rank_status(cell["Rnk"], f"{origin}: {what} row {number}")
        if link is None or rank_status is None:
            continue  # a row without a rider, or NR (no result)
        team = _LINK_TEXT.search(cell.get("Team", ""))
        age = cell.get("Age", "")
        out.append({"rider": link[2], "name": display_name(_unescape(link[1]), link[2]),
                    "team": _unescape(team[1]).strip() if team else None,
                    "age": int(age) if age.isdigit() else None, "rank": rank_status[0], "status": rank_status[1]})
    return pl.DataFrame(out, schema=_SEEN_SCHEMA)


def _rank_status(text: str, where: str) -> tuple[int | None, str] | None:
    """A Rnk cell → (rank, status); None for NR (no result)."""
    if text.isdigit():
        return int(text), "finished"
    if text in ("DNF", "DNS", "OTL", "DSQ"):
        return None, text
    if text == "DF":
        return None, "finished"  # did finish, no rank given
    if _STRUCK.fullmatch(text):
        return None, "DSQ"  # a struck-through rank: the result was annulled
    if text == "NR":
        return None
    raise RejectedData(f"{where}: unknown status {text!r} in the Rnk column "
                       "(expected a rank, DNF, DNS, OTL, DSQ, DF or NR)", details={"value": text})


def _frame(rows: pl.DataFrame, base: dict[str, object], *, kind: str, stage: str | None,
           time_trial: bool) -> pl.DataFrame:
    return conform(rows.with_columns(
        *[pl.lit(v, RESULTS_SCHEMA[k]).alias(k) for k, v in base.items()],
        kind=pl.lit(kind), stage=pl.lit(stage, pl.String), time_trial=pl.lit(time_trial)), RESULTS_SCHEMA)


def _race_day(lines: list[str]) -> date | None:
    """The date under "Race information" ("- Date:" then e.g. "21 July 2024"); None when absent."""
    for i, line in enumerate(lines):
        if line == "- Date:":
            value = next((x for x in lines[i + 1:] if x), "")
            try:
                return datetime.strptime(value.split(",")[0].strip(), "%d %B %Y").date()
            except ValueError:
                return None
    return None


def _stage_slug(subtitle: str) -> str | None:
    if match := _STAGE_TITLE.match(subtitle):
        return f"stage-{match[1].lower()}"
    return "prologue" if subtitle.lower().startswith("prologue") else None


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


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
