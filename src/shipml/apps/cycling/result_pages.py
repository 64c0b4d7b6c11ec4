"""Parse PCS race result pages saved as Markdown (Firecrawl output of procyclingstats.com) into result rows.

Race, year and class are in the header (``# 2024 » 111th Tour de France (2.UWT)``), the date under "Race
information", then tables. The first table is the page's own result (a one-day race, or the final stage of a
stage race); a stage race page also holds the general classification (the first later table with ``Prev`` and
``Time`` columns), parsed as ``kind="gc"``, and the other final standings the page lists in its menu
(``- [POINTS](…)``, ``- [KOM](…)``, ``- [YOUTH](…)``: the later tables with a ``Prev`` column, in menu order),
parsed as ``kind="points"``, ``"kom"`` and ``"youth"``: side information (a KOM or points standing says what a
rider is good at), never the rider's specialty label (the pages' "Specialty" column is never read). The Rnk
column holds a rank or a status: DNF/DNS/OTL/DSQ as such, a struck-through rank (``~~93~~``, result annulled) as
DSQ, DF (finished, no rank) as finished without a rank; NR (no result, e.g. a neutralised stage) rows are skipped.
The pages carry no nationality; their Age column (age on race day) pins down many riders' birth years
(:func:`birth_years_from_ages`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl

from shipml.apps.cycling.schema import RESULTS_SCHEMA, conform, display_name
from shipml.core.errors import RejectedData
from shipml.core.progress import Progress, no_progress

_H1 = re.compile(r"^#\s+(\d{4})\s+»\s+(.+?)\s+\(([^()]+)\)$")
_BREADCRUMB = re.compile(r"^\[[^\]]+\]\(https?://(?:www\.)?procyclingstats\.com/race/([^/)\s]+)\)\s+»")
_STAGE_TAB = re.compile(r"^- \[STAGE\]\(https?://[^)]*/race/[^/]+/\d{4}/([^/)\s]+)\)")
_STAGE_TITLE = re.compile(r"^Stage\s+(\d+[a-z]?)\b", re.IGNORECASE)
_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th)\s+")
_CELL = re.compile(r"(?<!\\)\|")
_RIDER_LINK = re.compile(r"\[([^\]]*)\]\([^)\s]*/rider/([^/)\s?#]+)[^)]*\)")
_LINK_TEXT = re.compile(r"\[([^\]]*)\]\(")
_STRUCK = re.compile(r"~~\d+~~")
_MENU = re.compile(r"^- \[([A-Z]+)\]\(https?://")
STANDINGS: dict[str, str] = {"POINTS": "points", "KOM": "kom", "YOUTH": "youth"}  # menu entry → result kind
_SEEN_SCHEMA: dict[str, pl.DataType] = {"rider": pl.String(), "name": pl.String(), "team": pl.String(),
                                        "age": pl.Int32(), "rank": pl.Int32(), "status": pl.String()}
Table = tuple[list[str], list[list[str]]]



@dataclass(frozen=True)
class ResultPages:
    """Parsed Markdown pages: the results, and who rode each race as the pages write it (name, age)."""

    results: pl.DataFrame
    seen: pl.DataFrame  # rider, name, age, date (of the page's own result table)


def read_results_pages(folder: Path, progress: Progress | None = None) -> ResultPages:
    """Parse every ``*.md`` page of ``folder`` (see :func:`parse_results_page`)."""
    progress = progress or no_progress
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
        frames += [_frame(_table_rows(table, origin, f"{kind} table"), base, kind=kind, stage=None, time_trial=False)
                   for kind, table in _standings(lines, tables)]
    seen = own.select("rider", "name", "age").with_columns(date=pl.lit(day, pl.Date))
    return ResultPages(pl.concat(frames), seen)


def _standings(lines: list[str], tables: list[Table]) -> list[tuple[str, Table]]:
    """(kind, table) of the points, KOM and youth standings of a stage race page. The menu names the
    classifications in page order (GC, POINTS, KOM, YOUTH, TEAMS, as far as the race has them); their final
    standings are the tables with a ``Prev`` column, in the same order. Day tables (no ``Prev``) and the teams
    standing (no ``Rider``) are left out; a page whose standings do not match its menu gives none."""
    menu = [m[1] for line in lines if (m := _MENU.match(line)) and m[1] not in ("STAGE",)]
    general = [t for t in tables[1:] if "Prev" in t[0]]
    if len(menu) != len(general):
        return []
    return [(STANDINGS[name], table) for name, table in zip(menu, general, strict=True)
            if name in STANDINGS and "Rider" in table[0] and "Rnk" in table[0]]


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
