"""The two cycling tables — race results and riders — their polars schemas and their validation.

Every source (PCS Markdown pages, the time-trial CSVs, riders_info, the scraper, the synthetic generator)
produces exactly these columns and types; :func:`validate_results` and :func:`validate_riders` are the
boundary: they raise :class:`RejectedData` whose message names the column, the value and where it is.

results — one row per rider per classification of a race edition:
    ``race`` (slug), ``race_name`` (the edition's name), ``year``, ``kind`` (one_day | stage | gc, or a stage
    race's final standing in another classification: points | kom | youth), ``stage`` (slug such as "stage-21"
    or "prologue"; null for every other kind), ``race_class`` ("1.UWT",
    "2.Pro", "NC", "WC", …), ``date``, ``rider`` (slug), ``rank`` (null when not finished or no rank was
    given), ``status`` (finished | DNF | DNS | OTL | DSQ), ``team``, ``time_trial``, ``source``.

riders — one row per rider slug: ``name``, ``nationality`` (ISO 3166 alpha-2), ``birth_date``,
    ``birth_year`` (filled whenever known, also without a full date), ``team`` (latest known), five
    specialty point totals ``pts_*`` and ``sources`` (comma-joined).

Sources are combined here too (:func:`combine_results`, :func:`merge_riders`): every importer and the
scraper turn what they read into result rows and *rider observations* (the riders columns plus the
``source`` that said so); the merge keeps, per field, the value of the most trusted source that has one.
"""

from __future__ import annotations

import polars as pl
from slugify import slugify  # PCS-style slugs: "Pogačar Tadej" → "pogacar-tadej"

from shipml.core.errors import RejectedData

RESULTS_SCHEMA: dict[str, pl.DataType] = {
    "race": pl.String(),
    "race_name": pl.String(),
    "year": pl.Int32(),
    "kind": pl.String(),
    "stage": pl.String(),
    "race_class": pl.String(),
    "date": pl.Date(),
    "rider": pl.String(),
    "rank": pl.Int32(),
    "status": pl.String(),
    "team": pl.String(),
    "time_trial": pl.Boolean(),
    "source": pl.String(),
}
SPECIALTIES: tuple[str, ...] = ("oneday", "gc", "tt", "sprint", "climber")
POINT_COLUMNS: tuple[str, ...] = tuple(f"pts_{s}" for s in SPECIALTIES)
RIDERS_SCHEMA: dict[str, pl.DataType] = {
    "rider": pl.String(),
    "name": pl.String(),
    "nationality": pl.String(),
    "birth_date": pl.Date(),
    "birth_year": pl.Int32(),
    "team": pl.String(),
    **{column: pl.Float64() for column in POINT_COLUMNS},
    "sources": pl.String(),
}
KINDS: tuple[str, ...] = ("one_day", "stage", "gc", "points", "kom", "youth")
# Final standings of a stage race's other classifications: side information for the models, not matrix columns.
STANDING_KINDS: tuple[str, ...] = ("points", "kom", "youth")
STATUSES: tuple[str, ...] = ("finished", "DNF", "DNS", "OTL", "DSQ")
SOURCES: tuple[str, ...] = ("pcs_md", "pcs_tt", "pcs_scrape", "synthetic")
RESULT_KEY: tuple[str, ...] = ("race", "year", "kind", "stage", "rider")
# Country names of pcs_tt_2020_2025/riders.csv (and other frequent cycling nations) → ISO 3166 alpha-2.
COUNTRY_CODES: dict[str, str] = {
    "Albania": "AL", "Algeria": "DZ", "Argentina": "AR", "Australia": "AU", "Austria": "AT", "Belarus": "BY",
    "Belgium": "BE", "Brazil": "BR", "Bulgaria": "BG", "Canada": "CA", "Chile": "CL", "China": "CN",
    "Colombia": "CO", "Costa Rica": "CR", "Croatia": "HR", "Czech Republic": "CZ", "Czechia": "CZ",
    "Denmark": "DK", "Ecuador": "EC", "Eritrea": "ER", "Estonia": "EE", "Ethiopia": "ET", "Finland": "FI",
    "France": "FR", "Germany": "DE", "Great Britain": "GB", "United Kingdom": "GB", "Greece": "GR",
    "Hungary": "HU", "Ireland": "IE", "Israel": "IL", "Italy": "IT", "Japan": "JP", "Kazakhstan": "KZ",
    "Latvia": "LV", "Lithuania": "LT", "Luxembourg": "LU", "Mexico": "MX", "Morocco": "MA",
    "Netherlands": "NL", "New Zealand": "NZ", "Norway": "NO", "Panama": "PA", "Poland": "PL", "Portugal": "PT",
    "Romania": "RO", "Russia": "RU", "Rwanda": "RW", "Serbia": "RS", "Slovakia": "SK", "Slovenia": "SI",
    "South Africa": "ZA", "Spain": "ES", "Sweden": "SE", "Switzerland": "CH", "Turkey": "TR", "Uganda": "UG",
    "Ukraine": "UA", "United States": "US", "USA": "US", "Uruguay": "UY", "Uzbekistan": "UZ", "Venezuela": "VE",
}
# Lower wins when two sources disagree (pcs_html: nationalities read from saved PCS pages, see .nationality).
# Results: scraped pages, then the Markdown pages (they name the team),
# then the TT CSVs. Rider fields: the scraper, then TT riders.csv (2025), riders_info (2022), and last what the
# result pages imply; names prefer PCS's own spelling (riders_info, result pages) to the TT CSV's title-cased
# one ("Mathieu Van Der Poel").
RESULT_PRIORITY: dict[str, int] = {"pcs_scrape": 0, "synthetic": 0, "pcs_md": 1, "pcs_tt": 2}
RIDER_PRIORITY: dict[str, int] = {"pcs_scrape": 0, "synthetic": 0, "pcs_tt": 1, "pcs_html": 1, "pcs_riders_info": 2,
                                  "pcs_md": 3}
NAME_PRIORITY: dict[str, int] = {"pcs_scrape": 0, "synthetic": 0, "pcs_riders_info": 1, "pcs_md": 2, "pcs_tt": 3,
                                 "pcs_html": 4}
# Rider observations: the riders columns (minus ``sources``) plus where they came from.
OBSERVATION_SCHEMA: dict[str, pl.DataType] = {
    **{c: t for c, t in RIDERS_SCHEMA.items() if c != "sources"}, "source": pl.String()}
_REQUIRED_RESULTS = ("race", "race_name", "year", "kind", "race_class", "rider", "status", "time_trial", "source")
_SLUG = r"^[^\s/]+$"
_YEARS = (1900, 2100)


def empty_results() -> pl.DataFrame:
    return pl.DataFrame(schema=RESULTS_SCHEMA)


def empty_riders() -> pl.DataFrame:
    return pl.DataFrame(schema=RIDERS_SCHEMA)


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select the schema's columns in order, cast to its types (strictly; missing columns raise)."""
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise RejectedData(f"missing column(s) {missing}", details={"columns": frame.columns})
    return frame.select(pl.col(c).cast(t, strict=True) for c, t in schema.items())


def validate_results(results: pl.DataFrame) -> pl.DataFrame:
    """Check the results table; return it unchanged.

    Raises:
        RejectedData: a missing column, a wrong type, a null where a value is required, an unknown kind,
            status or source, a stage slug on a one_day/gc row (or none on a stage row), a rank that is
            not positive, a rank on a row that was not finished, or the same rider twice in one
            classification.
    """
    _check_columns("results", results, RESULTS_SCHEMA)
    _check_not_null("results", results, _REQUIRED_RESULTS)
    _check_slugs("results", results, ("race", "rider"))
    _check_allowed("results", results, "kind", KINDS)
    _check_allowed("results", results, "status", STATUSES)
    _check_allowed("results", results, "source", SOURCES)
    _first_bad("results", results, ~pl.col("year").is_between(*_YEARS), "year",
               f"is outside {_YEARS[0]}–{_YEARS[1]}")
    _first_bad("results", results, pl.col("race_class").str.strip_chars() == "", "race_class", "is empty")
    _first_bad("results", results, (pl.col("kind") == "stage") & pl.col("stage").is_null(), "stage",
               "is null on a stage row (a stage result needs its stage slug)")
    _first_bad("results", results, (pl.col("kind") != "stage") & pl.col("stage").is_not_null(), "stage",
               "is set on a row that is not a stage result (only stage rows have a stage slug)")
    _first_bad("results", results, pl.col("rank") < 1, "rank", "is not positive")
    _first_bad("results", results, (pl.col("status") != "finished") & pl.col("rank").is_not_null(), "rank",
               "is set on a row that was not finished")
    key = list(RESULT_KEY)
    dupes = results.filter(pl.struct(key).is_duplicated())
    if dupes.height:
        row = dupes.row(0, named=True)
        where = ", ".join(f"{k}={row[k]!r}" for k in key)
        raise RejectedData(f"results: {dupes.height} rows repeat a rider in one classification (first: {where})",
                           details={"rows": dupes.height})
    return results


def validate_riders(riders: pl.DataFrame) -> pl.DataFrame:
    """Check the riders table; return it unchanged.

    Raises:
        RejectedData: a missing column, a wrong type, a null or empty name, a rider slug listed twice
            (the message shows both names), a nationality that is not two capital letters, a birth year
            that disagrees with the birth date, or negative specialty points.
    """
    _check_columns("riders", riders, RIDERS_SCHEMA)
    _check_not_null("riders", riders, ("rider", "name", "sources"))
    _check_slugs("riders", riders, ("rider",))
    _first_bad("riders", riders, pl.col("name").str.strip_chars() == "", "name", "is empty")
    dupes = riders.filter(pl.col("rider").is_duplicated())
    if dupes.height:
        slug = dupes["rider"][0]
        names = sorted(set(dupes.filter(pl.col("rider") == slug)["name"].to_list()))
        what = f"under two different names {names}" if len(names) > 1 else f"twice (name {names[0]!r})"
        raise RejectedData(f"riders: rider '{slug}' is listed {what}; rider slugs must be unique",
                           details={"rider": slug, "names": names})
    _first_bad("riders", riders, ~pl.col("nationality").str.contains(r"^[A-Z]{2}$"), "nationality",
               "is not an ISO 3166 alpha-2 code (two capital letters)")
    _first_bad("riders", riders, pl.col("birth_date").dt.year() != pl.col("birth_year"), "birth_year",
               "disagrees with birth_date")
    _first_bad("riders", riders, ~pl.col("birth_year").is_between(*_YEARS), "birth_year",
               f"is outside {_YEARS[0]}–{_YEARS[1]}")
    for column in POINT_COLUMNS:
        _first_bad("riders", riders, pl.col(column) < 0, column, "is negative")
    return riders


def combine_results(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Concatenate result frames; one row per (race, year, kind, stage, rider), the best source winning."""
    combined = pl.concat([conform(f, RESULTS_SCHEMA) for f in frames], how="vertical")
    priority = pl.col("source").replace_strict(RESULT_PRIORITY, default=9, return_dtype=pl.Int32)
    return (combined.with_row_index("_order").sort(priority, "_order")
            .unique(list(RESULT_KEY), keep="first", maintain_order=True)
            .sort("date", "race", "kind", "stage", "_order", nulls_last=True).drop("_order"))


def merge_riders(observations: pl.DataFrame, results: pl.DataFrame, *, keep_unraced: bool = False) -> pl.DataFrame:
    """One row per rider who has a result (or, with ``keep_unraced``, who was observed at all): each field
    from the highest-priority observation that has it.

    ``team`` falls back to the team of the rider's most recent result; ``birth_year`` comes from the birth
    date when there is one; ``name`` falls back to the slug, title-cased.
    """
    fields = [c for c in OBSERVATION_SCHEMA if c not in ("rider", "name", "source")]
    obs = conform(observations, OBSERVATION_SCHEMA).with_columns(
        _by_name=pl.col("source").replace_strict(NAME_PRIORITY, default=9, return_dtype=pl.Int32),
        _by_field=pl.col("source").replace_strict(RIDER_PRIORITY, default=9, return_dtype=pl.Int32))

    def best(field: str, priority: str) -> pl.Expr:
        return pl.col(field).sort_by(pl.col(field).is_null(), priority, maintain_order=True).first()

    merged = obs.group_by("rider").agg(
        best("name", "_by_name"), *[best(f, "_by_field") for f in fields],
        pl.col("source").unique().sort().str.join(",").alias("observed_in"),
    )
    latest_team = (results.filter(pl.col("team").is_not_null()).sort("year", "date", nulls_last=False)
                   .group_by("rider").agg(pl.col("team").last().alias("result_team")))
    in_results = results.group_by("rider").agg(
        pl.col("source").unique().sort().str.join(",").alias("result_sources"))
    riders = (in_results.join(merged, on="rider", how="full" if keep_unraced else "left", coalesce=True)
              .join(latest_team, on="rider", how="left")
              .with_columns(
                  name=pl.coalesce("name", pl.col("rider").str.replace_all("-", " ").str.to_titlecase()),
                  team=pl.coalesce("team", "result_team"),
                  birth_year=pl.coalesce(pl.col("birth_date").dt.year().cast(pl.Int32), "birth_year"),
                  sources=pl.concat_str("result_sources", "observed_in", separator=",", ignore_nulls=True)
                  .str.split(",").list.unique().list.sort().list.join(","),
              ))
    return conform(riders, RIDERS_SCHEMA).sort("rider")


def dominant_specialty(riders: pl.DataFrame) -> pl.Series:
    """The specialty with the most points per rider ("oneday", "gc", "tt", "sprint" or "climber"); null
    when every specialty is null or zero. Ties go to the first in :data:`SPECIALTIES`.

    For evaluation only (do riders of one specialty come out similar?): never a training input.
    """
    points = riders.select(pl.col(c).fill_null(0.0) for c in POINT_COLUMNS)
    best = points.select(
        pl.concat_list(pl.all()).list.arg_max().alias("best"),
        pl.max_horizontal(pl.all()).alias("top"),
    )
    labels = pl.Series(SPECIALTIES)
    return best.select(
        pl.when(pl.col("top") > 0).then(pl.col("best").replace_strict(range(len(labels)), labels))
        .otherwise(None).alias("dominant_specialty")
    ).to_series()


def display_name(name: str, slug: str) -> str:
    """PCS writes result names surname first ("van der Poel Mathieu", "Pogačar Tadej"); the slug has the
    display order ("mathieu-van-der-poel"). Rotate the words until they spell the slug; unchanged if no
    rotation does (the slug may carry a suffix such as "-2")."""
    words = name.split()
    for k in range(1, len(words)):
        rotated = words[k:] + words[:k]
        candidate = slugify(" ".join(rotated))
        if slug == candidate or slug.startswith(candidate + "-"):
            return " ".join(rotated)
    return " ".join(words)


def _check_columns(table: str, frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> None:
    for column, dtype in schema.items():
        if column not in frame.columns:
            raise RejectedData(f"{table}: missing column '{column}'", details={"columns": frame.columns})
        if frame.schema[column] != dtype:
            raise RejectedData(f"{table}: column '{column}' is {frame.schema[column]}, expected {dtype}",
                               details={"column": column})


def _check_not_null(table: str, frame: pl.DataFrame, columns: tuple[str, ...]) -> None:
    for column in columns:
        _first_bad(table, frame, pl.col(column).is_null(), column, "is null (a value is required)")


def _check_slugs(table: str, frame: pl.DataFrame, columns: tuple[str, ...]) -> None:
    for column in columns:
        _first_bad(table, frame, ~pl.col(column).str.contains(_SLUG), column,
                   "is not a slug (empty, or holds a space or '/')")


def _check_allowed(table: str, frame: pl.DataFrame, column: str, allowed: tuple[str, ...]) -> None:
    _first_bad(table, frame, ~pl.col(column).is_in(allowed), column, f"is unknown (expected one of {list(allowed)})")


def _first_bad(table: str, frame: pl.DataFrame, bad: pl.Expr, column: str, problem: str) -> None:
    """Raise for the first row where ``bad`` is true (null counts as fine), naming its row and value."""
    rows = frame.with_row_index("_row").filter(bad.fill_null(False))
    if rows.height:
        row = rows.row(0, named=True)
        who = f" (rider '{row['rider']}')" if "rider" in row and column != "rider" else ""
        raise RejectedData(f"{table}: row {row['_row'] + 1}{who}: {column} {row[column]!r} {problem}"
                           f"{f'; {rows.height} rows in all' if rows.height > 1 else ''}",
                           details={"column": column, "row": row["_row"] + 1, "value": str(row[column]),
                                    "rows": rows.height})
