"""The synthetic dataset: deterministic, valid, and a known answer — latent specialties drive ranks."""

from __future__ import annotations

import polars as pl
import pytest

from shipml.apps.cycling import data
from shipml.apps.cycling.schema import (
    RESULTS_SCHEMA,
    RIDERS_SCHEMA,
    SPECIALTIES,
    dominant_specialty,
    validate_results,
    validate_riders,
)
from shipml.apps.cycling.synthetic import ONE_DAY_RACES, STAGE_PLAN, YEARS, synthetic_results
from shipml.core import datasets


@pytest.fixture(scope="module")
def generated() -> tuple[pl.DataFrame, pl.DataFrame]:
    return synthetic_results(riders=300, seed=0)


def _terrain() -> pl.Expr:
    """Each result's terrain, from the generator's published race and stage plan."""
    one_day = {race: terrain for race, _name, terrain, _class in ONE_DAY_RACES}
    stages = {f"stage-{n + 1}": terrain for n, terrain in enumerate(STAGE_PLAN)}
    return (pl.when(pl.col("kind") == "one_day").then(pl.col("race").replace_strict(one_day, default=None))
            .when(pl.col("kind") == "gc").then(pl.lit("gc"))
            .otherwise(pl.col("stage").replace_strict(stages, default=None)))


@pytest.fixture(scope="module")
def mean_ranks(generated) -> dict[tuple[str, str], float]:
    """(terrain, specialty) → mean rank of finishers."""
    results, riders = generated
    specialty = riders.select("rider", specialty=dominant_specialty(riders))
    table = (results.filter(pl.col("status") == "finished").join(specialty, on="rider")
             .group_by(_terrain().alias("terrain"), "specialty").agg(pl.col("rank").mean()))
    return {(t, s): r for t, s, r in table.iter_rows()}


def test_same_seed_same_data_other_seed_other_data(generated):
    results, riders = generated
    again = synthetic_results(riders=300, seed=0)
    assert again[0].equals(results) and again[1].equals(riders)
    other = synthetic_results(riders=300, seed=1)
    assert not other[0].equals(results) and not other[1].equals(riders)


def test_has_the_schema_and_validates(generated):
    results, riders = generated
    assert results.schema == pl.Schema(RESULTS_SCHEMA) and riders.schema == pl.Schema(RIDERS_SCHEMA)
    validate_results(results)
    validate_riders(riders)
    assert riders.height == 300 and set(results["source"]) == {"synthetic"}
    assert sorted(results["year"].unique()) == list(YEARS)
    assert set(results["race_class"]) == {"1.UWT", "1.Pro", "1.1", "2.UWT", "2.Pro", "2.1"}
    assert set(results["kind"]) == {"one_day", "stage", "gc"}
    assert {"DNF", "DNS"} <= set(results["status"])
    itt = results.filter(pl.col("time_trial"))
    assert set(itt["stage"]) == {f"stage-{STAGE_PLAN.index('itt') + 1}"}


def test_points_reflect_the_latent_specialty(generated):
    _results, riders = generated
    counts = riders.select(dominant_specialty(riders)).to_series().value_counts()
    assert dict(counts.iter_rows()) == dict.fromkeys(SPECIALTIES, 60)


@pytest.mark.parametrize(("terrain", "best"), [
    ("flat", "sprint"), ("hilly", "oneday"), ("mountain", "climber"), ("itt", "tt"), ("gc", "gc")])
def test_specialists_rank_best_on_their_terrain(mean_ranks, terrain, best):
    others = {s: mean_ranks[(terrain, s)] for s in SPECIALTIES if s != best}
    assert mean_ranks[(terrain, best)] < min(others.values()) - 5, (terrain, mean_ranks[(terrain, best)], others)


def test_sprinters_beat_climbers_in_flat_one_day_races(generated):
    results, riders = generated
    flat = [race for race, _name, terrain, _class in ONE_DAY_RACES if terrain == "flat"]
    specialty = riders.select("rider", specialty=dominant_specialty(riders))
    ranks = (results.filter(pl.col("race").is_in(flat), pl.col("status") == "finished").join(specialty, on="rider")
             .group_by("specialty").agg(pl.col("rank").mean()))
    mean = dict(ranks.iter_rows())
    assert mean["sprint"] < 0.5 * mean["climber"]


def test_synthetic_ingest_is_stored_and_labelled(platform):
    outcome = data.ingest(data.SYNTHETIC)
    assert outcome["status"] == "stored"
    snap, results, riders = data.load()
    assert snap.synthetic and snap.source == "synthetic" and results.height == snap.rows
    assert riders.height == 300
    assert datasets.latest(data.DATASET_RIDERS).synthetic  # type: ignore[union-attr]
