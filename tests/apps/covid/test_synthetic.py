"""The synthetic export: same schema as the publication, deterministic, epidemic-shaped."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from shipml.apps.covid.cleaning import parse_export
from shipml.apps.covid.metrics import AGE_GROUPS, DISTRICTS, derive
from shipml.apps.covid.synthetic import PUBLISHED_HEADER, synthetic_export


@pytest.fixture(scope="module")
def synthetic() -> pl.DataFrame:
    return derive(parse_export(synthetic_export()))


def test_deterministic_for_a_seed() -> None:
    assert synthetic_export(days=120, seed=7) == synthetic_export(days=120, seed=7)
    assert synthetic_export(days=120, seed=7) != synthetic_export(days=120, seed=8)


def test_header_is_the_published_one(shared_data: Path) -> None:
    with (shared_data / "covid" / "datasets_data.csv").open(encoding="utf-8", newline="") as published:
        assert tuple(next(csv.reader(published))) == PUBLISHED_HEADER
    assert tuple(next(csv.reader(io.StringIO(synthetic_export(days=3).decode())))) == PUBLISHED_HEADER


@pytest.mark.parametrize(("days", "seed", "start"), [(400, 0, date(2020, 3, 8)), (1, 3, date(2021, 1, 1)),
                                                     (1200, 5, date(2020, 3, 8))])
def test_validates(days: int, seed: int, start: date) -> None:
    frame = parse_export(synthetic_export(days=days, seed=seed, start=start))
    assert frame.height == days
    assert frame["date"][0] == start


@pytest.mark.parametrize("seed", range(4))
def test_weekly_reporting_pattern(seed: int) -> None:
    frame = parse_export(synthetic_export(seed=seed))
    weekend = frame["date"].dt.weekday() >= 6
    assert frame.filter(weekend)["всего"].mean() < 0.8 * frame.filter(~weekend)["всего"].mean()
    monday = frame["date"].dt.weekday() == 1
    assert frame.filter(monday)["всего"].mean() > frame.filter(~monday & ~weekend)["всего"].mean()


def test_deaths_and_recoveries_follow_cases(synthetic: pl.DataFrame) -> None:
    peak = synthetic.sort("cases_7d", descending=True, nulls_last=True)["date"][0]
    deaths_peak = synthetic.sort("deaths_7d", descending=True, nulls_last=True)["date"][0]
    assert 5 <= (deaths_peak - peak).days <= 30
    assert synthetic["active"].min() >= 0
    assert synthetic["recovered_cum"][-1] < synthetic["cases_cum"][-1]


def test_breakdowns_add_up_to_the_cases(synthetic: pl.DataFrame) -> None:
    districts = synthetic.select(pl.sum_horizontal(*DISTRICTS, "cases_other_regions")).to_series()
    assert (districts == synthetic["cases"]).all()
    assert (synthetic.select(pl.sum_horizontal(AGE_GROUPS)).to_series() == synthetic["cases"]).all()
    assert ((synthetic["sex_male"] + synthetic["sex_female"]) == synthetic["cases"]).all()
    assert (synthetic["cases_cum"] == synthetic["cases_cum_published"]).all()
    assert (synthetic["districts_except_city"] == synthetic["districts_except_city_published"]).all()
    city_share = synthetic["district_kaliningrad"].sum() / synthetic["cases"].sum()
    assert 0.45 < city_share < 0.6
