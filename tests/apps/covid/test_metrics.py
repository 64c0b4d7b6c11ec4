"""The metric catalog and the derived metrics, checked against hand-computed and published numbers."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from shipml.apps.covid.cleaning import parse_export
from shipml.apps.covid.metrics import (
    AGE_GROUPS,
    DERIVED,
    DISTRICTS,
    POPULATION,
    SEX_GROUPS,
    catalog,
    derive,
)

REAL_FILES = ["main_data.csv", "datasets_data.csv", *(f"revisions/data_{day}.csv" for day in (
    "2021-01-03", "2021-03-07", "2021-06-03", "2021-08-12", "2021-11-04", "2022-01-28", "2022-08-30",
    "2023-06-08"))]


@pytest.fixture(scope="module")
def covid(shared_data: Path) -> Path:
    return shared_data / "covid"


@pytest.fixture(scope="module")
def main_metrics(covid: Path) -> pl.DataFrame:
    return derive(parse_export((covid / "main_data.csv").read_bytes()))


def _day(frame: pl.DataFrame, day: date) -> dict[str, float | None]:
    rows = frame.filter(pl.col("date") == day).to_dicts()
    assert len(rows) == 1, day
    return rows[0]


# Hand-checked on main_data.csv with GNU awk, independently of the code under test:
#   gawk -v FPAT='([^,]*)|("[^"]*")' '/^20[0-9][0-9]-/ { c+=$2; d+=$32; r+=$31; ir=$3; gsub(/"/,"",ir);
#     sub(/,/,".",ir); if (ir+0>=1) up++; else dn++; s=0; for(i=51;i<=71;i++) s+=$i;
#     print $1, c, d, r, c-r-d, up, dn, s }' main_data.csv
# ($2 всего, $31 выписали, $32 умерли от ковид, $3 infection rate, $51..$71 the 21 districts after the city)
# date: (cases_cum, deaths_cum, recovered_cum, active, days IR>=1, days IR<1, districts except city)
HAND_CHECKED = {
    date(2020, 4, 30): (358, 3, 66, 289, 37, 17, 0),
    date(2020, 6, 15): (2112, 34, 993, 1085, 65, 35, 0),
    date(2020, 10, 1): (4446, 85, 3340, 1021, 130, 78, 0),
    date(2020, 12, 1): (11658, 124, 8289, 3245, 186, 83, 67),
    date(2021, 1, 5): (18866, 196, 17087, 1583, 212, 92, 46),
}


@pytest.mark.parametrize("day", list(HAND_CHECKED))
def test_derived_metrics_match_hand_checked_days(main_metrics: pl.DataFrame, day: date) -> None:
    cases_cum, deaths_cum, recovered_cum, active, above, below, except_city = HAND_CHECKED[day]
    row = _day(main_metrics, day)
    assert row["cases_cum"] == cases_cum
    assert row["deaths_cum"] == deaths_cum
    assert row["recovered_cum"] == recovered_cum
    assert row["active"] == active
    assert row["ir_days_ratio"] == pytest.approx(above / below)
    assert row["districts_except_city"] == except_city


def test_misspelt_district_headers_are_counted(main_metrics: pl.DataFrame) -> None:
    # 2020-12-01: 188 cases = 121 in the city + 67 elsewhere (awk above). The original summed headers
    # containing 'округ' and so missed the five 'городской окру' columns: it would have shown 56.
    row = _day(main_metrics, date(2020, 12, 1))
    assert (row["cases"], row["district_kaliningrad"], row["districts_except_city"]) == (188, 121, 67)
    assert row["district_baltiysk"] is not None


def test_rolling_averages_and_rates(main_metrics: pl.DataFrame) -> None:
    # 2020-09-25 … 2020-10-01 'всего': 38 38 37 50 52 54 59 (gawk -F, on main_data.csv) → 328 / 7
    row = _day(main_metrics, date(2020, 10, 1))
    assert row["cases_7d"] == pytest.approx(328 / 7)
    assert row["tests_div10"] == pytest.approx(179.6)  # 'кол-во тестов' 1796
    assert row["cases_per_100k"] == pytest.approx(59 / 1_029_966 * 100_000)
    assert row["cases_7d_per_100k"] == pytest.approx(328 / 7 / 1_029_966 * 100_000)
    first_week = main_metrics.head(7)
    assert first_week["cases_7d"].null_count() == 6 and first_week["cases_7d"][6] is not None


def test_blank_days_are_missing_in_averages_and_zero_in_running_totals() -> None:
    days = [date(2021, 3, 1) + timedelta(days=i) for i in range(8)]
    cases = [10.0, 20.0, None, 30.0, None, 40.0, 50.0, None]
    clean = pl.DataFrame({"date": days, "всего": cases, "выписали": [0.0] * 8, "умерли от ковид": [1.0] * 8,
                          "кол-во тестов": [100.0] * 8, "Калининград": [None] * 8})
    frame = derive(clean)
    assert frame["cases_7d"][6] == pytest.approx((10 + 20 + 30 + 40 + 50) / 5)
    assert frame["cases_7d"][7] == pytest.approx((20 + 30 + 40 + 50) / 4)
    assert frame["cases_cum"].to_list() == [10, 30, 30, 60, 60, 100, 150, 150]
    assert frame["districts_except_city"].null_count() == 8
    assert frame["ir_days_ratio"].null_count() == 8  # no infection rate column in this export


def test_ir_ratio_is_null_until_a_day_below_one() -> None:
    days = [date(2021, 3, 1) + timedelta(days=i) for i in range(5)]
    clean = pl.DataFrame({"date": days, "всего": [1.0] * 5, "выписали": [0.0] * 5,
                          "умерли от ковид": [0.0] * 5, "кол-во тестов": [1.0] * 5, "Калининград": [1.0] * 5,
                          "infection rate": [1.2, None, 1.5, 0.8, 1.0]})
    assert derive(clean)["ir_days_ratio"].to_list() == [None, None, None, 2.0, 3.0]


def test_recomputed_metrics_equal_the_published_ones(covid: Path) -> None:
    frame = derive(parse_export((covid / "datasets_data.csv").read_bytes()))
    for ours in ("cases_cum", "deaths_cum", "recovered_cum", "active", "districts_except_city"):
        assert (frame[ours] == frame[f"{ours}_published"]).all(), ours
    assert (frame["tests_div10"] - frame["tests_div10_published"]).abs().max() < 1e-9
    # the original stored 'отношение' as float16 rounded to 2 decimals, and left it empty until the first
    # day with IR >= 1; ours is exact and 0.0 on those days
    published = frame["ir_days_ratio_published"]
    assert published.head(6).null_count() == 6 and frame["ir_days_ratio"].head(6).to_list() == [0.0] * 6
    as_original = np.round(frame["ir_days_ratio"].to_numpy()[6:].astype(np.float16).astype(float), 2)
    assert np.array_equal(as_original, published.to_numpy()[6:])


def test_three_versions_of_the_sheet_agree_on_the_totals(covid: Path) -> None:
    # 2021-01-01 in the raw export (with -1 for blanks and dd.mm dates), the raw main export and the
    # final publication: the -1 blanks must not be summed
    totals = set()
    for name in ("revisions/data_2021-01-03.csv", "main_data.csv", "datasets_data.csv"):
        row = _day(derive(parse_export((covid / name).read_bytes())), date(2021, 1, 1))
        totals.add((row["cases_cum"], row["deaths_cum"], row["recovered_cum"]))
    assert totals == {(18017, 192, 16341)}


@pytest.mark.parametrize("name", REAL_FILES)
def test_every_real_header_has_an_english_label(covid: Path, name: str) -> None:
    clean = parse_export((covid / name).read_bytes())
    metrics = catalog(clean.columns)
    assert [m for m in metrics if m.group == "other"] == []
    ids = [m.id for m in metrics]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", metric_id) for metric_id in ids)
    assert all(m.label and m.unit and re.fullmatch(r"[\x20-\x7e–≥≤−]+", m.label) for m in metrics)
    frame = derive(clean)
    assert frame.columns == ["date", *ids]
    assert frame.height == clean.height


def test_groups_are_complete_in_the_final_publication(covid: Path) -> None:
    frame = derive(parse_export((covid / "datasets_data.csv").read_bytes()))
    assert len(DISTRICTS) == 22 and "district_kaliningrad" in DISTRICTS
    assert set(DISTRICTS) | set(AGE_GROUPS) | set(SEX_GROUPS) <= set(frame.columns)
    assert POPULATION["region"] == 1_029_966


def test_unknown_and_clashing_headers_get_transliterated_ids() -> None:
    metrics = catalog(["новый столбец", "7-14", "от 07 до 14", "cases_cum"])
    assert [(m.id, m.label, m.group) for m in metrics[:2]] == [
        ("novyi_stolbets", "новый столбец", "other"), ("age_7_14", "Cases aged 7–14", "age")]
    assert metrics[2].id == "ot_07_do_14"  # same meaning as '7-14', but both are in this export
    assert metrics[3].id == "cases_cum_2"  # a header that clashes with a derived metric
    assert metrics[4:] == list(DERIVED)
