"""Issue 22, third round: rank fusion of the three views' neighbour lists instead of one cosine (scratch experiment).

Each view (factors, specialty evidence, walk) ranks every other rider by its own cosine; a rider's fused score is
``Σ_v w_v / (k + rank_v)`` (reciprocal rank fusion). Scored like `walk_grid.py` against `factors_evidence_walk`.

    .venv/bin/python benchmarks/cycling/fusion.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from _common import SHARED  # noqa: E402
from character import sims_shares  # noqa: E402
from walk_grid import report, shares  # noqa: E402


def ranks(sims: np.ndarray) -> np.ndarray:
    """Row-wise rank (0 = most similar) of every rider, the rider itself last."""
    s = sims.copy()
    np.fill_diagonal(s, -np.inf)
    order = np.argsort(-s, axis=1)
    out = np.empty_like(order)
    np.put_along_axis(out, order, np.arange(s.shape[1])[None, :].repeat(s.shape[0], 0), axis=1)
    return out


def main() -> None:
    from scipy import sparse

    from shipml.apps.cycling.evaluation import specialty_labels
    from shipml.apps.cycling.factor_model import FactorModel, WalkBlend
    from shipml.apps.cycling.graph import walk_view
    from shipml.apps.cycling.importers import load_shared
    from shipml.apps.cycling.similarity import unit_rows
    from shipml.apps.cycling.weighting import FINE_BINS, weighted_matrix

    results, riders_table = load_shared(SHARED / "cycling")
    labels = specialty_labels(riders_table)
    matrix = weighted_matrix(results, FINE_BINS, 5)
    names, counts = list(matrix.riders), matrix.counts
    assert matrix.evidence is not None

    def unit(m: np.ndarray) -> np.ndarray:
        return np.asarray(unit_rows(np.asarray(m, dtype=np.float64)), dtype=np.float64)

    walk_unit = unit(WalkBlend().fit(matrix).rider_vectors)
    walk = shares(names, counts, walk_unit, labels)
    report("factors_evidence_walk (promoted)", walk, None)
    factors = unit(FactorModel().fit(matrix).rider_vectors)
    evidence = unit(matrix.evidence)
    view = walk_view(sparse.csr_matrix(matrix.values @ matrix.race_profiles()), 2.0, 0.7)
    r = {"factors": ranks(factors @ factors.T), "evidence": ranks(evidence @ evidence.T),
         "walk": ranks(view @ view.T), "blend": ranks(walk_unit @ walk_unit.T)}
    for k in (5, 20, 60):
        for weights in ({"factors": 1, "evidence": 1, "walk": 1}, {"factors": 1, "evidence": 2, "walk": 1},
                        {"factors": 0.5, "evidence": 1, "walk": 1}, {"blend": 1, "evidence": 0.5},
                        {"blend": 1, "walk": 0.5}, {"blend": 1, "evidence": 0.5, "walk": 0.5}):
            fused = np.sum([w / (k + r[v]) for v, w in weights.items()], axis=0)
            label = ", ".join(f"{v} {w:g}" for v, w in weights.items())
            report(f"reciprocal rank fusion k={k}: {label}", sims_shares(names, counts, fused, labels), walk)


if __name__ == "__main__":
    main()
