"""Parsing and validating real covid exports, and rejecting broken ones with a reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from shipml.apps.covid.cleaning import REQUIRED_COLUMNS, check_plausible, parse_export, validate_against_previous
from shipml.core.errors import RejectedData

# file: (rows, numeric columns + date, first date, last date) -- rows and last dates from SOURCES.md
REAL_FILES = {
    "main_data.csv": (304, 72, date(2020, 3, 8), date(2021, 1, 5)),
    "datasets_data.csv": (1187, 130, date(2020, 3, 8), date(2023, 6, 7)),
    "revisions/data_2021-01-03.csv": (300, 71, date(2020, 3, 8), date(2021, 1, 1)),
    "revisions/data_2021-03-07.csv": (365, 100, date(2020, 3, 8), date(2021, 3, 7)),
    "revisions/data_2021-06-03.csv": (453, 106, date(2020, 3, 8), date(2021, 6, 3)),
    "revisions/data_2021-08-12.csv": (523, 112, date(2020, 3, 8), date(2021, 8, 12)),
    "revisions/data_2021-11-04.csv": (607, 120, date(2020, 3, 8), date(2021, 11, 4)),
    "revisions/data_2022-01-28.csv": (692, 127, date(2020, 3, 8), date(2022, 1, 28)),
    "revisions/data_2022-08-30.csv": (906, 130, date(2020, 3, 8), date(2022, 8, 30)),
    "revisions/data_2023-06-08.csv": (1187, 130, date(2020, 3, 8), date(2023, 6, 7)),
}
REVISIONS = sorted(name for name in REAL_FILES if name.startswith("revisions/"))


@pytest.fixture(scope="module")
def covid(shared_data: Path) -> Path:
    return shared_data / "covid"


def _value(frame: pl.DataFrame, day: date, column: str) -> float | None:
    return frame.filter(pl.col("date") == day)[column].item()


def _rejected(raw: bytes) -> str:
    with pytest.raises(RejectedData) as caught:
        parse_export(raw)
    return caught.value.message


@pytest.mark.parametrize("name", list(REAL_FILES))
def test_real_export_loads(covid: Path, name: str) -> None:
    rows, width, first, last = REAL_FILES[name]
    frame = parse_export((covid / name).read_bytes())
    assert frame.height == rows
    assert frame.width == width
    assert frame["date"].dtype == pl.Date
    assert (frame["date"].min(), frame["date"].max()) == (first, last)
    assert frame["date"].is_sorted() and frame["date"].n_unique() == rows
    assert all(dtype == pl.Float64 for name, dtype in frame.schema.items() if name != "date")
    assert set(REQUIRED_COLUMNS) - {"дата"} <= set(frame.columns)
    assert "учебные учреждения" not in frame.columns


def test_decimal_comma_is_read_exactly(covid: Path) -> None:
    frame = parse_export((covid / "main_data.csv").read_bytes())
    # main_data.csv has `2020-03-21,0.0,"0,67",…` and `2021-01-05,211.0,"0,96",…`
    assert _value(frame, date(2020, 3, 21), "infection rate") == 0.67
    assert _value(frame, date(2021, 1, 5), "infection rate") == 0.96
    published = parse_export((covid / "datasets_data.csv").read_bytes())
    both = frame.join(published, on="date", suffix="_published")
    assert both.height == 304
    assert both.filter(pl.col("infection rate") != pl.col("infection rate_published")).is_empty()


def test_dotted_dates_multiline_text_and_blank_marker(covid: Path) -> None:
    frame = parse_export((covid / "revisions/data_2021-01-03.csv").read_bytes())
    # 08.03.2020 is the 8th of March, not the 3rd of August
    assert frame["date"][0] == date(2020, 3, 8)
    # that raw export wrote -1.0 for a blank cell: 09.03.2020 has 'всего' -1.0, i.e. no value
    assert _value(frame, date(2020, 3, 9), "всего") is None
    assert _value(frame, date(2020, 12, 31), "1-6") == 6.0


def test_stray_number_header_is_kept_as_its_column(covid: Path) -> None:
    frame = parse_export((covid / "main_data.csv").read_bytes())
    assert _value(frame, date(2020, 12, 31), "44348") == 6.0


def test_number_formats() -> None:
    raw = ("дата,всего,выписали,умерли от ковид,кол-во тестов,Калининград,x\n"
           '2020-03-13,"1,5",1 234,"1\u00a0234,5", ,0,-1\n'
           "2020-03-14,2,3,4,5,6,7\n").encode()
    frame = parse_export(raw)
    assert frame.row(0) == (date(2020, 3, 13), 1.5, 1234.0, 1234.5, None, 0.0, None)


@pytest.mark.parametrize("value", ["1.234,5", "12,3,4", "#DIV/0!", "1 23", "nan"])
def test_ambiguous_or_bad_numbers_are_rejected(value: str) -> None:
    raw = f'дата,всего,выписали,умерли от ковид,кол-во тестов,Калининград\n2020-03-13,"{value}",1,1,1,1\n'
    message = _rejected(raw.encode())
    assert f"column 'всего' row 1: '{value}' is not a number" in message


def test_spreadsheet_leftovers_are_dropped() -> None:
    raw = ("\ufeffдата,всего,выписали,умерли от ковид,кол-во тестов,Калининград,пусто,,\r\n"
           "2020-03-14,2,3,4,5,6,,,\r\n"
           "2020-03-13,1,1,1,1,1,,,\r\n"
           ",,,,,,,,\r\n,,,,,,,,\r\n").encode()
    frame = parse_export(raw)
    assert frame.columns == ["date", "всего", "выписали", "умерли от ковид", "кол-во тестов", "Калининград"]
    assert frame["date"].to_list() == [date(2020, 3, 13), date(2020, 3, 14)]


# --- crafted bad inputs, from real bytes where possible ---------------------------------------------


def test_date_format_switching_mid_file(covid: Path) -> None:
    raw = (covid / "revisions/data_2021-01-03.csv").read_bytes()
    # data row 120 of that file is 05.07.2020; write it the ISO way
    raw = raw.replace(b"\n05.07.2020,", b"\n2020-07-05,", 1)
    assert "dates switch format at row 120: '2020-07-05' after dd.mm.yyyy" in _rejected(raw)


def test_ambiguous_dates(covid: Path) -> None:
    lines = (covid / "revisions/data_2021-01-03.csv").read_bytes().split(b"\n")
    raw = b"\n".join(lines[:6]) + b"\n"  # header + 08.03.2020 … 12.03.2020
    message = _rejected(raw)
    assert "ambiguous dates" in message and "≤ 12" in message


def test_month_day_order_is_not_guessed(covid: Path) -> None:
    text = (covid / "revisions/data_2021-01-03.csv").read_text(encoding="utf-8")
    lines = text.split("\n")
    swapped = [f"{line[3:5]}.{line[0:2]}{line[5:]}" if line[2:3] == "." and line[5:6] == "." else line
               for line in lines]
    message = _rejected("\n".join(swapped).encode())
    assert "row 6: '03.13.2020' is not a valid date" in message and "mm.dd.yyyy" in message


def test_invalid_and_missing_dates(covid: Path) -> None:
    raw = (covid / "datasets_data.csv").read_bytes()
    assert "row 2: '2020-02-31' is not a valid date" in _rejected(raw.replace(b"2020-03-09,", b"2020-02-31,"))
    assert "row 2: empty date in the middle" in _rejected(raw.replace(b"\n2020-03-09,", b"\n,"))
    assert "row 2: 'вчера' is not a date" in _rejected(raw.replace(b"2020-03-09,", "вчера,".encode()))


def test_text_in_a_numeric_column(covid: Path) -> None:
    lines = (covid / "main_data.csv").read_bytes().split(b"\n")
    day, _cases, rest = lines[57].split(b",", 2)  # data row 57 = 2020-05-03
    lines[57] = b",".join([day, "нет данных".encode(), rest])
    message = _rejected(b"\n".join(lines))
    assert "column 'всего' row 57: 'нет данных' is not a number" in message


def test_unknown_free_text_column(covid: Path) -> None:
    raw = (covid / "main_data.csv").read_bytes().replace("учебные учреждения".encode(), "заметки".encode(), 1)
    message = _rejected(raw)
    assert "column 'заметки'" in message and "is not a number" in message


@pytest.mark.parametrize("cut", [30, 1000])
def test_truncated_last_row(covid: Path, cut: int) -> None:
    raw = (covid / "datasets_data.csv").read_bytes()
    message = _rejected(raw[:-cut])
    assert message.startswith("truncated file: last row has ") and message.endswith(" of 130 fields")


def test_truncated_inside_a_quoted_multiline_cell(covid: Path) -> None:
    raw = (covid / "main_data.csv").read_bytes()
    assert "truncated file: row 304 ends inside a quoted cell" in _rejected(raw[:-20])


def test_row_with_extra_fields(covid: Path) -> None:
    lines = (covid / "datasets_data.csv").read_bytes().split(b"\n")
    lines[10] += b",5"
    assert "row 10 has 131 fields, the header has 130" in _rejected(b"\n".join(lines))


@pytest.mark.parametrize("raw", [b"", b"  \n\r\n", b"\xef\xbb\xbf"])
def test_empty_file(raw: bytes) -> None:
    assert _rejected(raw) == "empty file"


@pytest.mark.parametrize("raw", [
    b"<!DOCTYPE html>\n<html lang=en><title>Error 404 (Not Found)!!1</title><p>That's an error.",
    b"\n  <html><head><meta charset='utf-8'></head><body>Sign in - Google Accounts</body></html>",
])
def test_html_error_page(raw: bytes) -> None:
    assert _rejected(raw) == "looks like an HTML page, not CSV"


def test_not_utf8(covid: Path) -> None:
    raw = (covid / "datasets_data.csv").read_text(encoding="utf-8").encode("cp1251")
    assert _rejected(raw).startswith("not UTF-8 text")


@pytest.mark.parametrize("column", ["всего", "дата", "Калининград"])
def test_required_column_missing(covid: Path, column: str) -> None:
    raw = (covid / "datasets_data.csv").read_bytes()
    header, rest = raw.split(b"\n", 1)
    names = [b"renamed" if name == column.encode() else name for name in header.split(b",")]
    assert _rejected(b",".join(names) + b"\n" + rest) == f"required column '{column}' is missing"


def test_duplicate_date(covid: Path) -> None:
    lines = (covid / "datasets_data.csv").read_bytes().split(b"\n")
    lines.insert(101, lines[100])  # data row 100 = 2020-06-15, repeated as row 101
    assert "duplicate date 2020-06-15 at rows 100 and 101" in _rejected(b"\n".join(lines))


def test_dateless_row_with_values_at_the_end(covid: Path) -> None:
    raw = (covid / "datasets_data.csv").read_bytes() + b"," + b",".join([b"7"] * 129) + b"\n"
    assert "row 1188 has no date but holds values" in _rejected(raw)


def test_unnamed_column_with_values_and_duplicate_header() -> None:
    base = "дата,всего,выписали,умерли от ковид,кол-во тестов,Калининград"
    assert "column 7 has no header but holds values (row 1: '3')" in _rejected(
        f"{base},\n2020-03-13,1,1,1,1,1,3\n".encode())
    assert "column 'всего' appears twice (columns 2 and 7)" in _rejected(
        f"{base},всего\n2020-03-13,1,1,1,1,1,3\n".encode())


# --- refresh against the last good dataset ------------------------------------------------------------


def test_each_revision_is_a_valid_refresh_of_the_one_before(covid: Path) -> None:
    previous = None
    for name in REVISIONS:
        frame = parse_export((covid / name).read_bytes())
        validate_against_previous(frame, previous)
        previous = frame


def test_refresh_that_loses_data_is_rejected(covid: Path) -> None:
    old = parse_export((covid / "revisions/data_2021-11-04.csv").read_bytes())
    new = parse_export((covid / "revisions/data_2022-01-28.csv").read_bytes())
    with pytest.raises(RejectedData, match="goes back in time: last date 2021-11-04 is before"):
        validate_against_previous(old, new)
    with pytest.raises(RejectedData, match="lost history: it starts on 2020-04-01"):
        validate_against_previous(new.filter(pl.col("date") >= date(2020, 4, 1)), new)
    row = pl.int_range(pl.len())
    every_other_day = new.filter((row % 2 == 0) | (row == pl.len() - 1))  # first and last day kept
    with pytest.raises(RejectedData, match="truncated refresh: 347 rows, the previous dataset had 692"):
        validate_against_previous(every_other_day, new)
    with pytest.raises(RejectedData, match="refresh lost required column 'выписали'"):
        validate_against_previous(new.drop("выписали"), old)


def test_the_real_revision_with_negative_people_tested_parses_but_is_not_plausible(covid: Path) -> None:
    frame = parse_export((covid / "revisions" / "data_2021-08-12.csv").read_bytes())
    with pytest.raises(RejectedData, match="cumulative column 'кол-во протестированных' is negative on 2 day"):
        check_plausible(frame)
    check_plausible(parse_export((covid / "datasets_data.csv").read_bytes()))  # the newest export is plausible
