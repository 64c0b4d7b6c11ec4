"""The original app's scoring and weighting, cell by cell, and the variants that keep order below the top 20."""

from __future__ import annotations

import math
from datetime import date

import polars as pl
import pytest

from shipml.apps.cycling.weighting import (
    FINE_BINS,
    GRADED_REST,
    ORIGINAL,
    PERCENTILE,
    RaceColumn,
    Weighting,
    class_weight,
    kind_weight,
    recency_weight,
    result_score,
    weighted_matrix,
)


def result(race: str, year: int, rider: str, rank: int | None, *, kind: str = "one_day", stage: str | None = None,
           race_class: str = "1.UWT", status: str = "finished", team: str | None = "team-a",
           day: date | None = None) -> dict[str, object]:
    return {"race": race, "race_name": race.title(), "year": year, "kind": kind, "stage": stage,
            "race_class": race_class, "date": day, "rider": rider, "rank": rank, "status": status, "team": team,
            "time_trial": False, "source": "synthetic"}


def frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema_overrides={"year": pl.Int32, "rank": pl.Int32, "date": pl.Date,
                                                "stage": pl.String, "team": pl.String})


def scores(ranks: list[int | None], statuses: list[str], weighting: Weighting = ORIGINAL,
           field: int | None = None) -> list[float | None]:
    data = pl.DataFrame({"rank": ranks, "status": statuses}, schema_overrides={"rank": pl.Int32})
    size = None if field is None else pl.lit(field)
    return data.select(result_score("rank", "status", size, weighting))["score"].to_list()


def test_original_bins_score_podium_5_top5_4_top10_3_top20_2_rest_1():
    ranks = [1, 3, 4, 5, 6, 10, 11, 20, 21, 150]
    assert scores(ranks, ["finished"] * len(ranks)) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_a_result_that_was_not_finished_is_missing_not_zero():
    assert scores([None, None, None, None, None], ["DNF", "DNS", "OTL", "DSQ", "finished"]) == [None] * 5


def test_original_class_weights_and_championships():
    classes = ["1.UWT", "2.UWT", "1.Pro", "2.Pro", "1.1", "2.1", "1.2", "2.2", "2.2U", "WC", "CC", "NC", "XYZ"]
    weights = pl.DataFrame({"c": classes}).select(class_weight("c"))["class_weight"].to_list()
    assert weights == [2, 2, 1.5, 1.5, 0.75, 0.75, 0.5, 0.5, 0.5, 2, 1.5, 0.75, 1.0]


def test_recency_and_kind_weights():
    years = pl.DataFrame({"year": [2025, 2024, 2021], "kind": ["one_day", "stage", "gc"]})
    out = years.select(recency_weight("year", 2025), kind_weight("kind"))
    assert out["recency_weight"].to_list() == pytest.approx([1.0, math.exp(-0.25), math.exp(-1.0)])
    assert out["kind_weight"].to_list() == [1.0, 0.7, 1.25]


def test_weighted_matrix_cells_are_score_times_class_recency_and_kind_weights():
    rows = [
        result("classic", 2025, "ana", 1),                                                   # 5 · 2
        result("classic", 2025, "bo", 25),                                                   # 1 · 2
        result("tour", 2024, "ana", 4, kind="stage", stage="stage-1", race_class="2.2"),     # 4 · .5 · e^-.25 · .7
        result("tour", 2024, "bo", 12, kind="gc", race_class="2.2"),                         # 2 · .5 · e^-.25 · 1.25
        result("tour", 2024, "bo", None, kind="stage", stage="stage-1", race_class="2.2", status="DNF"),
        result("small", 2023, "cy", 2, race_class="1.1"),                                    # dropped: 1 result
    ]
    m = weighted_matrix(frame(rows), min_results=2)
    assert m.riders == ("ana", "bo")
    cell = {(m.riders[r], m.column_keys[c]): v for (r, c), v in m.values.todok().items()}
    decay = math.exp(-0.25)
    assert cell == pytest.approx({
        ("ana", RaceColumn("classic", 2025, "one_day", None)): 10.0,
        ("bo", RaceColumn("classic", 2025, "one_day", None)): 2.0,
        ("ana", RaceColumn("tour", 2024, "stage", "stage-1")): 4 * 0.5 * decay * 0.7,
        ("bo", RaceColumn("tour", 2024, "gc", None)): 2 * 0.5 * decay * 1.25,
    })
    assert m.counts.tolist() == [2, 2]
    assert m.shape == (2, 3)


def test_riders_below_min_results_are_dropped_and_unfinished_results_do_not_count():
    rows = [result(f"r{i}", 2024, "ana", i + 1) for i in range(3)]
    rows += [result(f"r{i}", 2024, "bo", None, status="DNF") for i in range(3)] + [result("r0", 2024, "bo", 9)]
    m = weighted_matrix(frame(rows), min_results=2)
    assert m.riders == ("ana",)


def test_one_cell_reported_twice_keeps_the_best_rank_once():
    rows = [result("tt", 2024, "ana", 3), {**result("tt", 2024, "ana", 5), "source": "pcs_tt"}]
    m = weighted_matrix(frame(rows), min_results=1)
    assert m.counts.tolist() == [1]
    assert m.scores().toarray().tolist() == [[5.0]]


def test_latest_team_comes_from_the_most_recent_result():
    rows = [result("a", 2023, "ana", 1, team="old"), result("b", 2024, "ana", 2, team="new", day=date(2024, 3, 1)),
            result("c", 2024, "ana", 2, team=None, day=date(2024, 5, 1))]
    assert weighted_matrix(frame(rows), min_results=1).teams == ("new",)


def test_graded_rest_keeps_the_order_below_the_top_20():
    ranks = [1, 20, 21, 60, 100]
    original = scores(ranks, ["finished"] * 5, field=100)
    graded = scores(ranks, ["finished"] * 5, GRADED_REST, field=100)
    assert original[2:] == [1, 1, 1]
    assert graded[:2] == [5, 2]
    assert graded[2] > graded[3] > graded[4] == pytest.approx(0.5)
    assert graded[2] < 1.5


def test_fine_bins_split_the_bunch():
    assert scores([15, 30, 60, 120], ["finished"] * 4, FINE_BINS) == [2, 1.5, 1.0, 0.5]


def test_percentile_scores_the_place_in_the_finishing_field():
    assert scores([1, 51, 101], ["finished"] * 3, PERCENTILE, field=101) == pytest.approx([5.0, 3.0, 1.0])


def test_percentile_matrix_uses_the_field_of_each_race_column():
    rows = [result("a", 2024, f"r{i}", i + 1) for i in range(5)] + [result("b", 2024, "r0", 2),
                                                                    result("b", 2024, "r1", 1)]
    m = weighted_matrix(frame(rows), PERCENTILE, min_results=1)
    s = m.scores().toarray()
    assert s[:, 0].tolist() == pytest.approx([5, 4, 3, 2, 1])
    assert s[:2, 1].tolist() == pytest.approx([1, 5])
