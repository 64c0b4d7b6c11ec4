"""The covid metric catalog (Russian header → stable English id) and the derived metrics.

The derived metrics follow the original ``dataprocessor.py`` of KonstantinKlepikov/covid-kaliningrad,
with its silent errors fixed:

* cumulative cases / deaths / recovered: running sums of the daily columns, a missing day counting as 0
  (the original filled every blank with 0 before summing, so the running total carries over a gap);
* ``active`` = cumulative cases − cumulative recovered − cumulative deaths;
* ``tests_div10`` = tests / 10, to plot tests on the cases axis;
* ``districts_except_city`` = sum of the 21 municipal districts other than Kaliningrad city. The original
  summed the headers containing 'округ', which silently missed the five misspelt 'городской окру' headers
  of the 2020 sheet; here districts are matched by id. 'другие регионы' (other regions) is not a district;
* ``ir_days_ratio`` = (days so far with infection rate ≥ 1) / (days so far with rate < 1); null while no
  day is below 1 yet. Days without a rate count on neither side (the original counted them as 0, i.e. < 1);
  not rounded (the original rounded to 2 decimals);
* ``cases_7d`` / ``deaths_7d``: mean of the reported values among the 7 calendar days ending that day;
  a blank day is missing, not 0; null when fewer than 4 of the 7 days are reported or the window starts
  before the first day of the data;
* ``cases_per_100k`` / ``cases_7d_per_100k``: per 100,000 people of the region (:data:`POPULATION`).

Every derived column is always present; it is null where its input column is absent from the export.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from shipml.apps.covid.cleaning import DATE_COLUMN, TEXT_COLUMNS
from shipml.apps.covid.labels import DISTRICT_HEADERS, LABELS, transliterate_id


@dataclass(frozen=True)
class Metric:
    """One column of the dashboard: a header of the export or a derived metric."""

    id: str
    name_ru: str
    label: str
    unit: str
    group: str


DISTRICTS: list[str] = list(dict.fromkeys(code for code, _ in DISTRICT_HEADERS.values()))
CITY = "district_kaliningrad"
AGE_GROUPS: list[str] = ["age_under_1", "age_1_6", "age_7_14", "age_15_17", "age_18_29", "age_30_49",
                         "age_50_64", "age_65_plus"]
SEX_GROUPS: list[str] = ["sex_male", "sex_female"]
POPULATION: dict[str, int] = {
    # Rosstat estimate of the resident population on 1 January 2021. (The original dashboard used
    # 1,012,512, the estimate for 1 January 2020.)
    "region": 1_029_966,
    # Rosstat estimate for the urban okrug "Город Калининград", 1 January 2021.
    CITY: 490_449,
}
ROLLING_DAYS = 7
ROLLING_MIN_REPORTED = 4

DERIVED: tuple[Metric, ...] = (
    Metric("cases_cum", "", "Cumulative cases", "people", "derived"),
    Metric("deaths_cum", "", "Cumulative deaths", "people", "derived"),
    Metric("recovered_cum", "", "Cumulative recovered", "people", "derived"),
    Metric("active", "", "Active cases (cumulative cases − recovered − deaths)", "people", "derived"),
    Metric("tests_div10", "", "Tests / 10", "tests", "derived"),
    Metric("districts_except_city", "", "Cases in all districts except Kaliningrad city", "people",
           "derived"),
    Metric("ir_days_ratio", "", "Days with infection rate ≥ 1 per day with rate < 1, so far", "ratio",
           "derived"),
    Metric("cases_7d", "", "New cases, 7-day average", "people", "derived"),
    Metric("deaths_7d", "", "Deaths, 7-day average", "people", "derived"),
    Metric("cases_per_100k", "", "New cases per 100,000 people", "per 100k", "derived"),
    Metric("cases_7d_per_100k", "", "New cases per 100,000 people, 7-day average", "per 100k", "derived"),
)


def catalog(columns: Iterable[str]) -> list[Metric]:
    """A :class:`Metric` for every export column given (in order), then every derived metric.

    ``date``/``дата`` and the free-text columns are skipped. A header without a known label gets an id
    transliterated from Russian and its Russian name as the label, in group ``other``. Ids are unique:
    a second header mapping to a taken id falls back to its transliteration (then a numeric suffix).
    """
    taken = {metric.id for metric in DERIVED} | {"date"}
    metrics: list[Metric] = []
    for column in columns:
        name = column.strip()
        if name in ("date", DATE_COLUMN) or name in TEXT_COLUMNS:
            continue
        known = LABELS.get(name)
        metric_id, label, unit, group = known if known else (transliterate_id(name), name, "", "other")
        if metric_id in taken:
            metric_id = transliterate_id(name)
        base, suffix = metric_id, 2
        while metric_id in taken:
            metric_id, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(metric_id)
        metrics.append(Metric(metric_id, name, label, unit, group))
    return metrics + list(DERIVED)


def derive(clean: pl.DataFrame) -> pl.DataFrame:
    """``date`` + every column of a :func:`~shipml.apps.covid.cleaning.parse_export` frame renamed to its
    metric id, + the derived metrics (see the module docstring)."""
    metrics = catalog(column for column in clean.columns if column != "date")
    frame = clean.select("date", *(pl.col(m.name_ru).alias(m.id) for m in metrics if m.name_ru))
    frame = frame.sort("date")
    present = set(frame.columns)

    def column(metric_id: str) -> pl.Expr:
        return pl.col(metric_id) if metric_id in present else pl.lit(None, dtype=pl.Float64)

    def running_total(metric_id: str) -> pl.Expr:
        return column(metric_id).fill_null(0.0).cum_sum()

    others = [pl.col(d) for d in DISTRICTS if d != CITY and d in present]
    except_city = (pl.when(pl.any_horizontal(*(c.is_not_null() for c in others)))
                   .then(pl.sum_horizontal(*others)) if others else pl.lit(None, dtype=pl.Float64))
    rate = column("infection_rate")
    above = (rate >= 1).cast(pl.Int64).fill_null(0).cum_sum()
    below = (rate < 1).cast(pl.Int64).fill_null(0).cum_sum()
    region = POPULATION["region"] / 100_000
    frame = frame.with_columns(
        cases_cum=running_total("cases"),
        deaths_cum=running_total("deaths"),
        recovered_cum=running_total("recovered"),
        tests_div10=column("tests") / 10,
        districts_except_city=except_city,
        ir_days_ratio=pl.when(below > 0).then(above / below),
        cases_7d=_rolling_mean(column("cases")),
        deaths_7d=_rolling_mean(column("deaths")),
    ).with_columns(
        active=pl.col("cases_cum") - pl.col("recovered_cum") - pl.col("deaths_cum"),
        cases_per_100k=column("cases") / region,
        cases_7d_per_100k=pl.col("cases_7d") / region,
    )
    base = [m.id for m in metrics if m.name_ru]
    return frame.select("date", *base, *(m.id for m in DERIVED)).with_columns(
        pl.col(m.id).cast(pl.Float64) for m in DERIVED)


def _rolling_mean(values: pl.Expr) -> pl.Expr:
    """Mean of the reported values over the 7 calendar days ending on each date (see module docstring)."""
    window = f"{ROLLING_DAYS}d"
    mean = values.cast(pl.Float64).rolling_mean_by("date", window_size=window,
                                                   min_samples=ROLLING_MIN_REPORTED)
    full_window = pl.col("date") >= pl.col("date").min() + pl.duration(days=ROLLING_DAYS - 1)
    return pl.when(full_window).then(mean)
