"""Ticket files → hourly active tickets on Spark (local[*]) equal the polars counts: the hand-made cases of
test_aggregation (overnight split, Saturday to Monday, both DST days, grid bounds), simulated ticket files over
the spring DST change (two quarterly files, one task each) and the ingest with ``SHIPML_PARKING_ENGINE=spark``."""

from __future__ import annotations

from datetime import date
from datetime import datetime as D
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from shipml.apps.parking.aggregation import active_tickets_by_hour, tickets_as_kinds
from shipml.apps.parking.spark_tickets import SparkTickets

pytestmark = pytest.mark.spark

CASES = {
    "crossing_hours": [(D(2024, 3, 5, 10, 30), D(2024, 3, 5, 12, 5)), (D(2024, 3, 5, 10), D(2024, 3, 5, 11)),
                       (D(2024, 3, 5, 11, 59), D(2024, 3, 5, 12, 1))],
    "overnight_split": [(D(2024, 3, 5, 20, 30), D(2024, 3, 6, 9, 30)), (D(2024, 3, 5, 18), D(2024, 3, 5, 19))],
    "saturday_to_monday": [(D(2024, 3, 9, 14, 30), D(2024, 3, 11, 9, 30))],
    "spring_forward": [(D(2024, 3, 31, 1, 30), D(2024, 3, 31, 3, 30)), (D(2024, 3, 30, 20), D(2024, 4, 1, 10))],
    "fall_back": [(D(2024, 10, 27, 1, 30), D(2024, 10, 27, 3, 30)), (D(2024, 10, 26, 23), D(2024, 10, 28, 9, 15))],
    "night_only": [(D(2024, 3, 5, 23, 30), D(2024, 3, 6, 1, 10))],
}


def kinds_of(tickets: list[tuple[D, D]], zone: str = "AZUL") -> pl.DataFrame:
    frame = pl.DataFrame({"neighbourhood_id": [101] * len(tickets), "zone": [zone] * len(tickets),
                          "start": [t[0] for t in tickets], "end": [t[1] for t in tickets]})
    return tickets_as_kinds(frame)


@pytest.mark.parametrize("clip", [True, False], ids=["regulated", "whole_day"])
def test_hand_made_cases_count_the_same_on_spark(clip: bool) -> None:
    cases = [kinds_of(tickets).with_columns(neighbourhood_id=pl.lit(100 + i, dtype=pl.Int32))  # a series per case
             for i, tickets in enumerate(CASES.values())]
    kinds = pl.concat([*cases, kinds_of(CASES["overnight_split"][:1], "VERDE")])
    expected = active_tickets_by_hour(kinds, clip_to_regulated=clip)
    got = SparkTickets.of(kinds).active(clip_to_regulated=clip)
    assert_frame_equal(got, expected)
    series = got.select("neighbourhood_id", "zone").n_unique()
    assert series == (len(CASES) + 1 if not clip else len(CASES))  # Sunday-only night tickets: none regulated
    assert got.filter(pl.col("hour").dt.date() == date(2024, 10, 27)).height == 25 * series
    assert got.filter(pl.col("hour").dt.date() == date(2024, 3, 31)).height == 23 * series
    assert got["active"].sum() > 0


def test_grid_bounds_and_an_empty_count_are_the_same_on_spark() -> None:
    kinds = kinds_of(CASES["overnight_split"])
    bounds = {"first_hour": D(2024, 3, 5, 19), "last_hour": D(2024, 3, 6, 12)}  # starts inside a ticket
    assert_frame_equal(SparkTickets.of(kinds).active(**bounds), active_tickets_by_hour(kinds, **bounds))
    sunday = kinds_of([(D(2024, 3, 10, 10), D(2024, 3, 10, 12))])  # no regulated hour at all
    assert_frame_equal(SparkTickets.of(sunday).active(), active_tickets_by_hour(sunday))


@pytest.fixture(scope="module")
def ticket_files(tmp_path_factory: pytest.TempPathFactory, per_neighbourhood: pl.DataFrame) -> tuple[Path, Any]:
    from shipml.apps.parking.spaces import neighbourhood_names
    from shipml.apps.parking.synthetic import simulate_tickets

    per = per_neighbourhood.filter(pl.col("neighbourhood_id").is_in([101, 104, 201, 905]))
    folder = tmp_path_factory.mktemp("tickets")
    simulate_tickets(folder, date(2024, 3, 25), date(2024, 4, 3), per, scale=0.05, seed=5)  # Q1 and Q2 files
    with (folder / "SYNTHETIC_ser_tickets_2024Q2.csv").open("a") as f:  # rows rejected for a reason
        f.write("x;y\n")
    return folder, neighbourhood_names(per_neighbourhood)


def test_ticket_files_count_the_same_on_spark(ticket_files: tuple[Path, Any]) -> None:
    from shipml.apps.parking.tickets import read_tickets

    folder, names = ticket_files
    embedded = read_tickets(folder, names)
    on_spark = SparkTickets.read(folder, names)
    assert on_spark.report.to_dict() == embedded.report.to_dict() and on_spark.tickets == embedded.tickets > 1000
    got, expected = on_spark.active(), active_tickets_by_hour(embedded.kinds)
    assert_frame_equal(got, expected)
    assert got["active"].sum() > 0 and got.filter(pl.col("hour").dt.date() == date(2024, 3, 31)).height == (
        23 * got.select("neighbourhood_id", "zone").n_unique())


def test_the_ingest_counts_on_spark_when_told(ticket_files: tuple[Path, Any], platform: Any, monkeypatch) -> None:
    from shipml.apps.parking.ingest import occupancy

    folder, _ = ticket_files
    frame, report, synthetic = occupancy(folder)
    monkeypatch.setenv("SHIPML_PARKING_ENGINE", "spark")
    on_spark, spark_report, spark_synthetic = occupancy(folder)
    assert_frame_equal(on_spark, frame)
    assert (spark_report, spark_synthetic) == (report, synthetic) and report["rows_rejected"] > 0
