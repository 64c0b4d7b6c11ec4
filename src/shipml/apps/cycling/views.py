"""A second view of a rider beside the rider × race matrix: how much specialty evidence their results carry.

The matrix compares riders race by race; this view sums, per kind of result, how strong a rider's top results are,
the way a specialty shows in a palmarès (a rider's share of a field's top places, not the rider's specialty label):

* ``oneday`` — one-day road races; ``gc`` — general classifications and youth standings; ``tt`` — time trials (one-day,
  stages and the time-trial CSVs); ``sprint`` — road stages (the shared pages hold a stage race's final stage, mostly a
  bunch sprint) and points-classification standings; ``climber`` — mountains (KOM) standings.

A result at rank ``r`` scores ``max(0, 1 − (r − 1)/depth)²`` (``depth`` 60: a top-60 place counts, the podium most),
doubled in a WorldTour race or a world championship/Olympics. Each kind's column is divided by its total over the
riders, so every kind carries the same weight whatever its number of results. Riders' specialty points and the
pages' "Specialty" column are never read: they are the evaluation's labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

EVIDENCE: tuple[str, ...] = ("oneday", "gc", "tt", "sprint", "climber")
DEPTH = 60


def evidence_kind() -> pl.Expr:
    """Which evidence a result row is (see the module); null for a row that is none (e.g. a team standing)."""
    kind, tt = pl.col("kind"), pl.col("time_trial").fill_null(False)
    return (pl.when(tt).then(pl.lit("tt"))
            .when(kind.is_in(["gc", "youth"])).then(pl.lit("gc"))
            .when(kind == "one_day").then(pl.lit("oneday"))
            .when(kind.is_in(["stage", "points"])).then(pl.lit("sprint"))
            .when(kind == "kom").then(pl.lit("climber"))
            .otherwise(None).alias("evidence"))


def specialty_evidence(results: pl.DataFrame, riders: Sequence[str], depth: int = DEPTH) -> np.ndarray:
    """riders × :data:`EVIDENCE`: each rider's summed top-result scores per kind, every kind's column summing to 1
    over ``riders`` (a kind nobody scored in stays 0). Rows of riders outside ``riders`` are ignored."""
    out = np.zeros((len(riders), len(EVIDENCE)))
    if not riders or results.is_empty():
        return out
    big = pl.col("race_class").str.contains(r"UWT|^WC$|^Olympics$|^OG$").fill_null(False)
    scored = (
        results.filter((pl.col("status") == "finished") & pl.col("rank").is_not_null())
        .select("rider", evidence_kind(),
                score=((1.0 - (pl.col("rank") - 1) / depth).clip(lower_bound=0.0) ** 2) * (1.0 + big.cast(pl.Float64)))
        .filter(pl.col("evidence").is_not_null() & (pl.col("score") > 0))
        .group_by("rider", "evidence").agg(pl.col("score").sum())
    )
    row = {rider: i for i, rider in enumerate(riders)}
    col = {kind: j for j, kind in enumerate(EVIDENCE)}
    for rider, kind, score in scored.iter_rows():
        if rider in row:
            out[row[rider], col[kind]] = score
    totals = out.sum(axis=0)
    return out / np.where(totals > 0, totals, 1.0)
