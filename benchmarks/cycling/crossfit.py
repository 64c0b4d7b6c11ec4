"""Issue 22: an honest specialty figure over every queried rider, by two-fold cross-fitting of the choice.

`walk_grid.py` chooses `factors_evidence_walk`'s defaults on the validation half (SHA-1 of the slug even) and reports
the test half (386 riders; its CI is wide). Here the same grid (3 powers × 3 alphas × 3 evidence weights × 4 walk
weights) is chosen twice: on the validation half, scored on the test half, and on the test half, scored on the
validation half. Every queried rider's neighbour share then comes from a configuration chosen without their label,
so the pooled ratio over all 744 queried riders is held out, with a bootstrap CI (1,000 draws) over all of them.
Labels are never a model input (they only choose among configurations and score them).

    .venv/bin/python benchmarks/cycling/crossfit.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from _common import SHARED, emit  # noqa: E402
from walk_grid import Shares, _ratio, half, shares  # noqa: E402

NAME = "cycling_crossfit"


def pooled(chosen: dict[str, Shares]) -> tuple[float, float, float, int]:
    """Ratio and 95 % bootstrap CI over the riders of both halves, each half scored by the configuration chosen
    on the other (``chosen``: half → that configuration's shares)."""
    keys = [k for part, sh in chosen.items() for k in sh if half(k) == part]
    s = np.array([chosen[half(k)][k][0] for k in keys])
    r = np.array([chosen[half(k)][k][1] for k in keys])
    picks = np.random.default_rng(0).integers(0, len(s), size=(1000, len(s)))
    lo, hi = np.percentile(s[picks].mean(1) / r[picks].mean(1), [2.5, 97.5])
    return float(s.mean() / r.mean()), float(lo), float(hi), len(keys)


def main() -> None:
    from scipy import sparse

    from shipml.apps.cycling.evaluation import specialty_labels
    from shipml.apps.cycling.factor_model import EvidenceBlend
    from shipml.apps.cycling.graph import walk_view
    from shipml.apps.cycling.importers import load_shared
    from shipml.apps.cycling.model import fit_results
    from shipml.apps.cycling.similarity import unit_rows
    from shipml.apps.cycling.weighting import FINE_BINS, weighted_matrix

    results, riders = load_shared(SHARED / "cycling")
    labels = specialty_labels(riders)
    blends = {w: fit_results(EvidenceBlend(evidence_weight=w), results) for w in (0.5, 1.0, 1.5, 2.0, 3.0)}
    names, counts = list(blends[1.5].riders), blends[1.5].counts

    def unit(m: np.ndarray) -> np.ndarray:
        return np.asarray(unit_rows(np.asarray(m, dtype=np.float64)), dtype=np.float64)

    labelled = [r for r in names if r in labels]
    emit(NAME, "riders in the model (>= 5 finished results)", len(names), "riders",
         labelled=len(labelled), queried=int(sum(1 for r, c in zip(names, counts, strict=True)
                                                  if r in labels and c >= 5)),
         riders_named_in_the_data=int(results["rider"].n_unique()), labelled_in_riders_table=len(labels))
    grids: dict[str, dict[str, Shares]] = {"evidence weight (factors_evidence)": {}, "walk grid": {}}
    for w, blend in blends.items():
        grids["evidence weight (factors_evidence)"][f"factors_evidence w={w:g}"] = shares(
            names, counts, unit(blend.rider_vectors), labels)
    matrix = weighted_matrix(results, FINE_BINS, 5)
    graph = sparse.csr_matrix(matrix.values @ matrix.race_profiles())
    for power in (1.5, 2.0, 3.0):
        for alpha in (0.3, 0.5, 0.7):
            view = walk_view(graph, power, alpha)
            for w in (1.0, 1.5, 2.0):
                for a in (0.75, 1.0, 1.5, 2.0):
                    config = f"walk power {power:g} alpha {alpha:g}, evidence weight {w:g}, walk weight {a:g}"
                    grids["walk grid"][config] = shares(
                        names, counts, unit(np.hstack([unit(blends[w].rider_vectors), a * view])), labels)
    for grid_name, grid in grids.items():
        chosen: dict[str, Shares] = {}
        for scored, chooser in (("test", "validation"), ("validation", "test")):
            best = max(grid, key=lambda c: _ratio(grid[c], chooser)[0])
            on_chooser, on_scored = _ratio(grid[best], chooser), _ratio(grid[best], scored)
            chosen[scored] = grid[best]
            emit(NAME, f"{grid_name}: chosen on the {chooser} half, scored on the {scored} half", on_scored[0], "x",
                 chosen=best, chooser_ratio=round(on_chooser[0], 3), ci95=[round(on_scored[1], 2),
                                                                            round(on_scored[2], 2)],
                 riders=on_scored[3])
        p = pooled(chosen)
        emit(NAME, f"{grid_name}: cross-fitted, every queried rider held out", p[0], "x",
             ci95=[round(p[1], 3), round(p[2], 3)], riders=p[3])


if __name__ == "__main__":
    main()
