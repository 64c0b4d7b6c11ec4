"""Importing the shared PCS data (Markdown result pages, time-trial CSVs, riders_info) into one consistent
pair of tables, rejecting bad input with a clear reason, and storing it through the real dataset store."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from shipml.apps.cycling import data
from shipml.apps.cycling.importers import load_shared, read_riders_info, read_time_trials
from shipml.apps.cycling.result_pages import birth_years_from_ages, parse_results_page, read_results_pages
from shipml.apps.cycling.schema import display_name, dominant_specialty, validate_results, validate_riders
from shipml.core import datasets
from shipml.core.errors import RejectedData


@pytest.fixture(scope="module")
def shared(cycling_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    return load_shared(cycling_dir)


def _page(cycling_dir: Path, name: str) -> str:
    return (cycling_dir / "pcs_results_md" / f"{name}.md").read_text(encoding="utf-8")


def _rider(riders: pl.DataFrame, slug: str) -> dict[str, object]:
    return riders.filter(pl.col("rider") == slug).row(0, named=True)


def test_all_shared_data_gives_one_consistent_pair_of_tables(shared):
    # Counts measured on shared/data/cycling (2026 copy) with this importer, by
    # `load_shared(...)` then group_by("source", "kind").len() and null counts on the riders table.
    results, riders = shared
    assert results.height == 18_591 and riders.height == 1_898
    assert results.group_by("source", "kind").len().sort("source", "kind").rows() == [
        ("pcs_md", "gc", 3_754), ("pcs_md", "kom", 1_311), ("pcs_md", "one_day", 4_759),
        ("pcs_md", "points", 2_054), ("pcs_md", "stage", 3_741), ("pcs_md", "youth", 1_073),
        # 1,922 TT rows − 2 repeated in results.csv − 21 also on a Markdown page (kept from the page)
        ("pcs_tt", "one_day", 516), ("pcs_tt", "stage", 1_383)]
    assert riders["rider"].is_unique().all()  # one row per slug: never one rider under two names
    assert set(riders["rider"]) == set(results["rider"])  # every result has its rider, every rider a result
    # nationalities: the TT riders.csv (119) and the saved PCS pages' result tables, startlists and rankings (536),
    # and the flags beside rider links in those pages' HTML (78 more)
    assert riders["nationality"].is_not_null().sum() == 614
    assert riders["birth_date"].is_not_null().sum() == 1_195  # riders_info DOBs (a 2022 snapshot)
    assert riders["birth_year"].is_not_null().sum() == 1_290  # + TT birth years + years pinned by ages
    assert riders["team"].is_not_null().sum() == 1_889  # riders seen only in the TT CSVs have no team
    per_rider = results.filter(pl.col("kind").is_in(["one_day", "stage", "gc"])).group_by("rider").len()["len"]
    assert ((per_rider >= 5).sum(), (per_rider >= 25).sum()) == (905, 82)


def test_known_riders_and_results(shared):
    results, riders = shared
    gc = results.filter(pl.col("race") == "tour-de-france", pl.col("year") == 2024, pl.col("kind") == "gc")
    winner = gc.filter(pl.col("rank") == 1).row(0, named=True)
    assert (winner["rider"], winner["race_class"], winner["date"], winner["team"]) == (
        "tadej-pogacar", "2.UWT", date(2024, 7, 21), "UAE Team Emirates")
    pogacar = _rider(riders, "tadej-pogacar")
    assert (pogacar["name"], pogacar["birth_date"], pogacar["nationality"]) == (
        "Tadej Pogačar", date(1998, 9, 21), "SI")  # DOB from riders_info, nationality from the TT riders
    assert pogacar["sources"] == "pcs_html,pcs_md,pcs_riders_info,pcs_tt"
    # PCS's spelling wins over the TT file's title-cased "Mathieu Van Der Poel"
    assert _rider(riders, "mathieu-van-der-poel")["name"] == "Mathieu van der Poel"
    # Vingegaard's slug was "jonas-vingegaard-rasmussen" in the 2022 riders_info: no DOB, birth year from TT
    vingegaard = _rider(riders, "jonas-vingegaard")
    assert (vingegaard["birth_date"], vingegaard["birth_year"], vingegaard["pts_gc"]) == (None, 1996, 5806.0)
    itt = results.filter(pl.col("race") == "tour-de-france", pl.col("year") == 2024, pl.col("stage") == "stage-21")
    assert itt["time_trial"].all() and itt.filter(pl.col("rank") == 2)["rider"].to_list() == ["jonas-vingegaard"]


def test_one_day_and_stage_race_pages(cycling_dir):
    one_day = parse_results_page(_page(cycling_dir, "milano-sanremo_2024")).results
    assert set(one_day["kind"]) == {"one_day"} and one_day["stage"].null_count() == one_day.height
    assert one_day.filter(pl.col("rank") <= 3).sort("rank")["rider"].to_list() == [
        "jasper-philipsen", "michael-matthews", "tadej-pogacar"]
    assert one_day.group_by("status").len().sort("status").rows() == [("DNF", 11), ("finished", 164)]
    stage_race = parse_results_page(_page(cycling_dir, "czech-tour_2024")).results
    assert stage_race.group_by("kind", "stage").len().sort("kind").rows() == [
        ("gc", None, 119), ("kom", None, 18), ("points", None, 35), ("stage", "stage-4", 137), ("youth", None, 33)]
    assert (stage_race["race"][0], stage_race["race_name"][0], stage_race["race_class"][0]) == (
        "czech-tour", "Czech Tour", "2.1")
    # the page's name of the edition: the 2022 Czech Tour was the "Sazka Tour"
    assert parse_results_page(_page(cycling_dir, "czech-tour_2022")).results["race_name"][0] == "Sazka Tour"


def test_status_rows_of_the_rnk_column(cycling_dir):
    tdf = parse_results_page(_page(cycling_dir, "tour-de-france_2022")).results
    # Quintana's 2022 Tour was annulled: PCS strikes his ranks through (~~15~~); that is a DSQ
    assert tdf.filter(pl.col("rider") == "nairo-quintana").select("kind", "status").rows() == [
        ("stage", "DSQ"), ("gc", "DSQ"), ("points", "DSQ"), ("kom", "DSQ")]
    # the 2025 Vuelta's final stage was neutralised: all NR (no result), so only its GC (and standings) are imported
    vuelta = parse_results_page(_page(cycling_dir, "vuelta-a-espana_2025")).results
    assert "stage" not in set(vuelta["kind"])
    assert vuelta.filter(pl.col("kind") == "gc").height == 153


def test_markdown_and_tt_csv_agree_where_they_overlap(cycling_dir):
    pages = read_results_pages(cycling_dir / "pcs_results_md").results
    tt, _ = read_time_trials(cycling_dir / "pcs_tt_2020_2025")
    both = pages.join(tt, on=["race", "year", "kind", "stage", "rider"], how="inner", nulls_equal=True)
    assert both.height == 21 and (both["rank"] == both["rank_right"]).all()


def test_ages_on_race_days_pin_birth_years_that_match_riders_info(cycling_dir):
    seen = read_results_pages(cycling_dir / "pcs_results_md").seen
    info = read_riders_info(cycling_dir / "pcs_riders_info" / "riders_info.csv")
    pinned = birth_years_from_ages(seen).join(info.drop_nulls("birth_date"), on="rider")
    assert pinned.height > 400 and (pinned["birth_year"] == pinned["birth_date"].dt.year()).all()


@pytest.mark.parametrize(("written", "slug", "shown"), [
    ("van der Poel Mathieu", "mathieu-van-der-poel", "Mathieu van der Poel"),
    ("Pogačar Tadej", "tadej-pogacar", "Tadej Pogačar"),
    ("Thomas Benjamin", "benjamin-thomas-2", "Benjamin Thomas"),
    ("Aniołkowski Stanisław", "stanislaw-aniolkowski", "Stanisław Aniołkowski"),
    ("Mystery Name", "someone-else", "Mystery Name"),
])
def test_result_names_are_put_in_display_order(written, slug, shown):
    assert display_name(written, slug) == shown


def test_dominant_specialty_is_the_argmax_of_the_points():
    riders = pl.DataFrame({"pts_oneday": [10.0, None, 0.0], "pts_gc": [500.0, None, 0.0], "pts_tt": [20.0, None, None],
                           "pts_sprint": [1.0, 3.0, 0.0], "pts_climber": [400.0, None, 0.0]})
    assert dominant_specialty(riders).to_list() == ["gc", "sprint", None]


def _copy_layout(cycling_dir: Path, target: Path) -> Path:
    for part in ("pcs_tt_2020_2025", "pcs_riders_info"):
        shutil.copytree(cycling_dir / part, target / part)
    (target / "pcs_results_md").mkdir()
    for name in ("milano-sanremo_2024", "czech-tour_2024"):
        shutil.copy(cycling_dir / "pcs_results_md" / f"{name}.md", target / "pcs_results_md")
    return target


BAD_INPUTS = {
    "a page with no result table": (
        lambda d: (d / "pcs_results_md" / "milano-sanremo_2024.md").write_text(
            "\n".join(line for line in (d / "pcs_results_md" / "milano-sanremo_2024.md").read_text().splitlines()
                      if not line.startswith("|"))),
        "milano-sanremo_2024.md: no result table"),
    "a CSV missing a column": (
        lambda d: (d / "pcs_tt_2020_2025" / "races.csv").write_text(
            (d / "pcs_tt_2020_2025" / "races.csv").read_text().replace("class,", "category,", 1)),
        r"races.csv: missing column\(s\) \['class'\]"),
    "an unknown status": (
        lambda d: (d / "pcs_results_md" / "milano-sanremo_2024.md").write_text(
            (d / "pcs_results_md" / "milano-sanremo_2024.md").read_text().replace("| DNF |", "| ABD |", 1)),
        "milano-sanremo_2024.md: result table row 165: unknown status 'ABD' in the Rnk column"),
    "a date that is not a date": (
        lambda d: (d / "pcs_riders_info" / "riders_info.csv").write_text(
            (d / "pcs_riders_info" / "riders_info.csv").read_text().replace("1998-09-21", "1998-21-09", 1)),
        r"riders_info.csv: column 'DOB' row 7365: '1998-21-09' is not valid"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_rejected_with_a_clear_reason(cycling_dir, tmp_path, case):
    folder = _copy_layout(cycling_dir, tmp_path / "cycling")
    damage, reason = BAD_INPUTS[case]
    damage(folder)
    with pytest.raises(RejectedData, match=reason):
        load_shared(folder)


def test_validation_names_the_problem(shared):
    results, riders = shared
    with pytest.raises(RejectedData, match=r"status 'ABD' is unknown"):
        validate_results(results.with_columns(status=pl.when(pl.col("status") == "DNS").then(pl.lit("ABD"))
                                              .otherwise("status")))
    with pytest.raises(RejectedData, match="rank 0 is not positive"):
        validate_results(results.with_columns(rank=pl.when(pl.col("rank") == 1).then(0).otherwise("rank")))
    with pytest.raises(RejectedData, match="column 'year' is String, expected Int32"):
        validate_results(results.with_columns(pl.col("year").cast(pl.String)))
    with pytest.raises(RejectedData, match="missing column 'time_trial'"):
        validate_results(results.drop("time_trial"))
    twin = riders.filter(pl.col("rider") == "tadej-pogacar").with_columns(name=pl.lit("T. Pogacar"))
    with pytest.raises(RejectedData, match=r"rider 'tadej-pogacar' is listed under two different names"):
        validate_riders(pl.concat([riders, twin]))
    with pytest.raises(RejectedData, match="repeat a rider in one classification"):
        validate_results(pl.concat([results, results.head(1)]))


def test_ingest_of_the_shared_folder_stores_both_tables_once(platform, cycling_dir, tmp_path):
    first = data.ingest(str(cycling_dir))
    assert first["status"] == "stored"
    snap, results, riders = data.load()
    assert (snap.rows, results.height, riders.height, snap.synthetic) == (18_591, 18_591, 1_898, False)
    assert data.ingest(str(cycling_dir))["status"] == "unchanged"
    broken = _copy_layout(cycling_dir, tmp_path / "broken")
    (broken / "pcs_tt_2020_2025" / "results.csv").write_text("rider_url,race_url\n")
    with pytest.raises(RejectedData, match="results.csv: missing column"):
        data.ingest(str(broken))
    assert datasets.version_count(data.DATASET_RESULTS) == 1  # the last good version keeps serving
    assert [r["status"] for r in datasets.refreshes(data.DATASET_RIDERS)] == ["rejected", "unchanged", "stored"]
