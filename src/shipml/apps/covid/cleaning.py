"""Parse and validate one raw CSV export of the Kaliningrad covid sheet into a clean daily frame.

Pure: takes the downloaded bytes, returns a polars frame or raises :class:`RejectedData` whose message says
what is wrong and where ("column 'всего' row 57: 'нет данных' is not a number"). Rows are numbered as data
rows, 1 = the first record after the header (a quoted multi-line cell counts as one row).

What it guards against (each a failure of the original pandas pipeline):

* day and month swapped: the date format is detected once per file (``yyyy-mm-dd`` or ``dd.mm.yyyy``);
  a file that switches format, or a dotted file where no day or month part exceeds 12 (dd.mm and mm.dd
  both fit), is rejected, never guessed; a dotted file that only fits mm.dd.yyyy is rejected too;
* decimal commas: ``"1,5"`` is 1.5, never 15; spaces / no-break spaces between digit groups are thousands
  separators; anything else that is not a number is rejected with its column, row and value;
* empty spreadsheet columns: unnamed or all-empty columns are dropped;
* free text: only the known :data:`TEXT_COLUMNS` may hold text; they are dropped from the numeric frame;
* truncated downloads: a last row with fewer fields than the header, or ending inside a quoted cell.
  A final newline is not required (Google Sheets CSV downloads have none), so a cut inside the very
  last value cannot be seen here; a cut at a row boundary is caught by :func:`validate_against_previous`.

The 2020 exports wrote ``-1`` for a blank cell; ``-1`` becomes null except in :data:`SIGNED_COLUMNS`,
where negative values are real.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import cast

import polars as pl

from shipml.core.errors import RejectedData

DATE_COLUMN = "дата"
# Present in every version of data.csv (2021-01 raw export … 2023-06); 'infection rate' is not: the
# 2021-01-03 export lacks it, so it is optional and the metrics that need it are null without it.
REQUIRED_COLUMNS: tuple[str, ...] = (DATE_COLUMN, "всего", "выписали", "умерли от ковид", "кол-во тестов",
                                     "Калининград")
# Comment column of the 2020 sheet: lists schools and kindergartens with cases, otherwise '0'.
TEXT_COLUMNS: frozenset[str] = frozenset({"учебные учреждения"})
# Columns where a negative value is data, not the blank marker.
SIGNED_COLUMNS: frozenset[str] = frozenset({"кумул.активные", "умерли разница"})
BLANK_MARKER = -1.0
# A refresh keeping fewer than this share of the previous rows is treated as truncated.
MIN_KEPT_SHARE = 0.9
MAX_GAP_DAYS = 7  # the export has one row a day; a longer hole means rows were cut out of the middle

_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_FORMAT_NAMES = {"iso": "yyyy-mm-dd", "dotted": "dd.mm.yyyy"}
_NUMBER = r"^[+-]?(?:\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:[.,]\d+)?(?:[eE][+-]?\d+)?$"


def parse_export(raw: bytes) -> pl.DataFrame:
    """Parse one export into ``date`` (pl.Date, sorted, unique) + one Float64 column per numeric header.

    Columns keep their original header, stripped of surrounding whitespace.

    Raises:
        RejectedData: the bytes are not a complete, consistent export; the message says why and where.
    """
    header, rows = _records(_decode(raw))
    names = [name.strip() for name in header]
    if DATE_COLUMN not in names:
        raise RejectedData(f"required column '{DATE_COLUMN}' is missing", details={"columns": names})
    _check_names(names, rows)
    for required in REQUIRED_COLUMNS:
        if required not in names:
            raise RejectedData(f"required column '{required}' is missing", details={"columns": names})
    date_index = names.index(DATE_COLUMN)
    rows = _drop_trailing_blank_rows(rows, date_index)
    if not rows:
        raise RejectedData("no data rows: the file has a header only")
    dates = _parse_dates([row[date_index] for row in rows])
    columns: dict[str, pl.Series] = {"date": pl.Series("date", dates, dtype=pl.Date)}
    for index, name in enumerate(names):
        if not name or name == DATE_COLUMN or name in TEXT_COLUMNS:
            continue
        series = _parse_numbers(name, [row[index] for row in rows])
        if series.null_count() < len(series):
            columns[name] = series
    for required in REQUIRED_COLUMNS[1:]:
        if required not in columns:
            raise RejectedData(f"required column '{required}' has no values")
    return pl.DataFrame(list(columns.values())).sort("date")


def check_plausible(frame: pl.DataFrame) -> None:
    """Reject what parses but cannot be true: a negative cumulative count, or days missing from the middle.

    Cumulative columns are those whose catalog id ends in ``_cum``. The gap tolerance is :data:`MAX_GAP_DAYS`."""
    from shipml.apps.covid.labels import LABELS

    for name in frame.columns:
        if name in LABELS and LABELS[name][0].endswith("_cum"):
            negative = frame.filter(pl.col(name) < 0)
            if negative.height:
                first = negative.row(0, named=True)
                raise RejectedData(f"cumulative column '{name}' is negative on {negative.height} day(s), first "
                                   f"{first['date']}: {first[name]:g}; a cumulative count cannot go below 0")
    gaps = frame.select(pl.col("date"), gap=pl.col("date").diff().dt.total_days()).filter(
        pl.col("gap") > MAX_GAP_DAYS)
    if gaps.height:
        day, gap = gaps.row(0)
        raise RejectedData(f"{gap - 1} days are missing before {day} (more than {MAX_GAP_DAYS} in a row): rows "
                           "were cut out of the middle")


def validate_against_previous(new: pl.DataFrame, previous: pl.DataFrame | None) -> None:
    """Reject a refresh that would lose what the last good dataset had.

    Both frames are :func:`parse_export` outputs. New columns and revised past values are fine (the sheet
    is edited by hand); rejected are: a lost required column, a last date earlier than before, a first date
    later than before (history cut off), or fewer than :data:`MIN_KEPT_SHARE` of the previous rows.
    """
    if previous is None or previous.is_empty():
        return
    for required in REQUIRED_COLUMNS[1:]:
        if required in previous.columns and required not in new.columns:
            raise RejectedData(f"refresh lost required column '{required}'")
    if new.is_empty():
        raise RejectedData(f"truncated refresh: 0 rows, the previous dataset had {previous.height}")
    (new_first, new_last), (old_first, old_last) = _span(new), _span(previous)
    if new_last < old_last:
        raise RejectedData(f"refresh goes back in time: last date {new_last} is before the previous "
                           f"last date {old_last}")
    if new_first > old_first:
        raise RejectedData(f"refresh lost history: it starts on {new_first}, the previous dataset "
                           f"started on {old_first}")
    if new.height < MIN_KEPT_SHARE * previous.height:
        raise RejectedData(f"truncated refresh: {new.height} rows, the previous dataset had "
                           f"{previous.height} (less than {MIN_KEPT_SHARE:.0%})")


def _span(frame: pl.DataFrame) -> tuple[date, date]:
    return cast(date, frame["date"].min()), cast(date, frame["date"].max())


def _decode(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RejectedData(f"not UTF-8 text: byte {raw[error.start]:#04x} at offset {error.start}") from None
    if not text.strip():
        raise RejectedData("empty file")
    head = text[:2048].lstrip().lower()
    if head.startswith("<") or "<html" in head or "<!doctype" in head:
        raise RejectedData("looks like an HTML page, not CSV")
    return text


def _records(text: str) -> tuple[list[str], list[list[str]]]:
    """Split the text into the header and rows, checking that every row has the header's field count."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[list[str]] = []
    try:
        for record in reader:
            records.append(record)
    except csv.Error as error:
        at = len(records)  # records so far include the header, so this is the 1-based data row
        if "unexpected end of data" in str(error):
            raise RejectedData(f"truncated file: row {at} ends inside a quoted cell") from None
        raise RejectedData(f"malformed CSV at row {at}: {error}") from None
    header, rows = records[0], records[1:]
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()  # blank lines at the end of the file
    width = len(header)
    for number, row in enumerate(rows, start=1):
        if len(row) == width:
            continue
        if number == len(rows) and len(row) < width:
            raise RejectedData(f"truncated file: last row has {len(row)} of {width} fields")
        raise RejectedData(f"row {number} has {len(row)} fields, the header has {width}")
    return header, rows


def _check_names(names: list[str], rows: list[list[str]]) -> None:
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if not name:
            filled = next((n for n, row in enumerate(rows, start=1) if row[index].strip()), None)
            if filled is not None:
                raise RejectedData(f"column {index + 1} has no header but holds values "
                                   f"(row {filled}: '{rows[filled - 1][index].strip()}')")
        elif name in seen:
            raise RejectedData(f"column '{name}' appears twice (columns {seen[name] + 1} and {index + 1})")
        else:
            seen[name] = index


def _drop_trailing_blank_rows(rows: list[list[str]], date_index: int) -> list[list[str]]:
    """Drop spreadsheet rows at the end whose cells are all empty; a dateless row with values is an error."""
    end = len(rows)
    while end and not rows[end - 1][date_index].strip():
        row = rows[end - 1]
        filled = [cell.strip() for cell in row if cell.strip()]
        if filled:
            raise RejectedData(f"row {end} has no date but holds values (e.g. '{filled[0]}')")
        end -= 1
    return rows[:end]


def _parse_dates(values: list[str]) -> list[date]:
    """Detect the file's one date format and parse every row with it."""
    parts: list[tuple[int, int, int]] = []
    file_format: str | None = None
    for number, value in enumerate(values, start=1):
        text = value.strip()
        if not text:
            raise RejectedData(f"column '{DATE_COLUMN}' row {number}: empty date in the middle of the file")
        if match := _ISO.fullmatch(text):
            row_format, (year, month, day) = "iso", match.groups()
        elif match := _DOTTED.fullmatch(text):
            row_format, (day, month, year) = "dotted", match.groups()
        else:
            raise RejectedData(f"column '{DATE_COLUMN}' row {number}: '{text}' is not a date "
                               f"(expected yyyy-mm-dd or dd.mm.yyyy)")
        file_format = file_format or row_format
        if row_format != file_format:
            raise RejectedData(f"dates switch format at row {number}: '{text}' after "
                               f"{_FORMAT_NAMES[file_format]}")
        parts.append((int(year), int(month), int(day)))
    if file_format == "dotted" and all(day <= 12 and month <= 12 for _, month, day in parts):
        raise RejectedData("ambiguous dates: every day is ≤ 12 so dd.mm and mm.dd both fit "
                           f"({values[0].strip()} … {values[-1].strip()})")
    dates: list[date] = []
    first_row: dict[date, int] = {}
    for number, (year, month, day) in enumerate(parts, start=1):
        try:
            parsed = date(year, month, day)
        except ValueError:
            hint = " (month > 12: is the file mm.dd.yyyy?)" if month > 12 else ""
            raise RejectedData(f"column '{DATE_COLUMN}' row {number}: '{values[number - 1].strip()}' "
                               f"is not a valid date{hint}") from None
        if parsed in first_row:
            raise RejectedData(f"duplicate date {parsed} at rows {first_row[parsed]} and {number}")
        first_row[parsed] = number
        dates.append(parsed)
    return dates


def _parse_numbers(name: str, values: list[str]) -> pl.Series:
    """Strict number parsing: decimal comma or point, digit-group spaces, empty → null, else reject."""
    text = pl.Series(name, values, dtype=pl.String).str.strip_chars()
    text = text.replace("", None)
    valid = text.str.contains(_NUMBER)
    bad = (text.is_not_null() & ~valid).arg_true()
    if len(bad):
        row = int(bad[0])
        share_bad = len(bad) / max(1, text.is_not_null().sum())
        hint = ("; the column looks like free text, which is only accepted in the known text columns "
                f"{sorted(TEXT_COLUMNS)}") if share_bad > 0.5 else ""
        raise RejectedData(f"column '{name}' row {row + 1}: '{text[row]}' is not a number{hint}",
                           details={"column": name, "row": row + 1, "value": text[row]})
    numbers = (text.str.replace_all(r"[ \u00a0\u202f]", "").str.replace(",", ".", literal=True)
               .cast(pl.Float64))
    if name not in SIGNED_COLUMNS:
        numbers = numbers.replace(BLANK_MARKER, None)
    return numbers
