"""Issue 22, third round: the specialty-evidence view re-weighted and propagated over the walk (scratch experiments).

Scored like `walk_grid.py` (validation half chooses; test and all riders with 95 % CIs; paired CI of the difference
to the promoted `factors_evidence_walk` on the validation half). Labels are never an input.

* evidence per kind re-weighted (e.g. the rare KOM-standing ``climber`` column × 2) or with another depth per kind;
* evidence propagated over the personalised PageRank of the rider–race graph: ``E' = (1 − β)·E + β·P E`` with ``P``
  the row-normalised walk reach (riders with few results borrow the evidence of riders whose walks they share).

    .venv/bin/python benchmarks/cycling/evidence_grid.py
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from _common import SHARED  # noqa: E402
from walk_grid import report, shares  # noqa: E402


def reach(values: np.ndarray, power: float = 2.0, alpha: float = 0.7) -> np.ndarray:
    """The walk's raw personalised PageRank, rows summing to 1 (graph.walk_view before its normalisation)."""
    w = values**power
    to_race = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
    to_rider = (w / np.maximum(w.sum(axis=0, keepdims=True), 1e-300)).T
    step = to_race @ to_rider
    return np.asarray((1.0 - alpha) * np.linalg.inv(np.eye(len(w)) - alpha * step))


def main() -> None:
    from scipy import sparse

    from shipml.apps.cycling.evaluation import specialty_labels
    from shipml.apps.cycling.factor_model import WalkBlend
    from shipml.apps.cycling.importers import load_shared
    from shipml.apps.cycling.similarity import unit_rows
    from shipml.apps.cycling.views import EVIDENCE, specialty_evidence
    from shipml.apps.cycling.weighting import FINE_BINS, weighted_matrix

    results, riders_table = load_shared(SHARED / "cycling")
    labels = specialty_labels(riders_table)
    matrix = weighted_matrix(results, FINE_BINS, 5)
    names, counts = list(matrix.riders), matrix.counts
    assert matrix.evidence is not None
    base = matrix.evidence

    def unit(m: np.ndarray) -> np.ndarray:
        return np.asarray(unit_rows(np.asarray(m, dtype=np.float64)), dtype=np.float64)

    def fit(evidence: np.ndarray, **kw: float) -> np.ndarray:
        return unit(WalkBlend(**kw).fit(dataclasses.replace(matrix, evidence=evidence)).rider_vectors)

    walk = shares(names, counts, fit(base), labels)
    report("factors_evidence_walk (promoted)", walk, None)
    col = {k: j for j, k in enumerate(EVIDENCE)}
    for kind, scales in (("climber", (0.5, 1.5, 2.0, 3.0)), ("gc", (0.5, 0.75, 1.5)), ("tt", (0.5, 1.5)),
                         ("sprint", (0.75, 1.5)), ("oneday", (0.75, 1.5))):
        for s in scales:
            e = base.copy()
            e[:, col[kind]] *= s
            report(f"evidence column {kind} x {s:g}", shares(names, counts, fit(e), labels), walk)
    for depth in (20, 30, 40, 90):
        report(f"evidence depth {depth} (was 60)",
               shares(names, counts, fit(specialty_evidence(results, names, depth)), labels), walk)
    tt_evidence(results, names, base, fit, walk, labels, counts)
    graph = sparse.csr_matrix(matrix.values @ matrix.race_profiles()).toarray()
    for alpha in (0.5, 0.7):
        p = reach(graph, 2.0, alpha)
        p /= p.sum(axis=1, keepdims=True)
        for beta in (0.25, 0.5, 0.75, 1.0):
            e = (1 - beta) * unit(base) + beta * unit(p @ base)
            report(f"evidence propagated over the walk (alpha {alpha:g}), beta {beta:g}",
                   shares(names, counts, fit(e), labels), walk)
        few = (1.0 / np.maximum(counts, 1) * 5)[:, None].clip(0, 1)  # riders with 5 results: all propagated
        e = (1 - few) * unit(base) + few * unit(p @ base)
        report(f"evidence propagated over the walk (alpha {alpha:g}), beta = 5 / results",
               shares(names, counts, fit(e), labels), walk)


def tt_evidence(results, names, base, fit, walk, labels, counts) -> None:  # type: ignore[no-untyped-def]
    """Time trials split by profile (races.csv: metres climbed per km, ProfileScore) and scored by seconds lost per
    km (the TT CSVs' result relative to the winner's time), as extra evidence columns."""
    import polars as pl
    from character import _depth_score, column_evidence

    folder = SHARED / "cycling" / "pcs_tt_2020_2025"
    races = pl.read_csv(folder / "races.csv", infer_schema_length=0).select(
        "url", km=pl.col("distance").cast(pl.Float64, strict=False),
        climb=pl.col("vertical_meters").cast(pl.Float64, strict=False),
        ps=pl.col("profile_score").cast(pl.Float64, strict=False))
    rows = pl.read_csv(folder / "results.csv", infer_schema_length=0).select(
        "race_url", rider=pl.col("rider_url").str.extract(r"/rider/([^/]+)"),
        rank=pl.col("result").cast(pl.Int64, strict=False), lost=pl.col("seconds_lost").cast(pl.Float64, strict=False))
    tt = rows.join(races, left_on="race_url", right_on="url").filter(pl.col("rank").is_not_null()).with_columns(
        per_km=pl.col("lost") / pl.col("km"), hilly=(pl.col("climb") / pl.col("km") >= 15) | (pl.col("ps") >= 50),
        score=_depth_score(pl.col("rank").cast(pl.Float64)))
    tt = tt.with_columns(key=pl.when(pl.col("hilly")).then(pl.lit("tt-hilly")).otherwise(pl.lit("tt-flat")),
                         speed=(-pl.col("per_km").fill_null(99.0) / 2.0).exp())
    split = column_evidence(tt, names, "key", "score")
    speed = column_evidence(tt, names, "key", "speed")
    for m in (0.5, 1.0):
        report(f"evidence + TT CSV results split flat/hilly (>= 15 m/km or PS >= 50), depth-scored x {m:g}",
               shares(names, counts, fit(np.hstack([base, m * split])), labels), walk)
        report(f"evidence + TT CSV seconds lost per km (exp(-s/km / 2)), flat/hilly x {m:g}",
               shares(names, counts, fit(np.hstack([base, m * speed])), labels), walk)


if __name__ == "__main__":
    main()
