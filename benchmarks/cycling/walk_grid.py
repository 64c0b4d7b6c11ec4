"""Issue 22, second round: how `factors_evidence_walk`'s defaults were chosen, and what else was tried.

Specialty agreement of 10 neighbours / random rate (labels for evaluation only), riders queried in a validation
half (SHA-1 of the slug even) or a test half (odd) — the split of `run.py` — neighbours among every labelled rider.
Every line: validation ratio, test ratio with its 95 % bootstrap CI, all riders with its CI, and the paired bootstrap
CI of the difference to `factors_evidence` (w=1.5) on the validation half. Choose on validation only.

    .venv/bin/python benchmarks/cycling/walk_grid.py [--grid-only]
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402
from _common import SHARED, emit  # noqa: E402

NAME = "cycling_walk"
Shares = dict[str, tuple[float, float]]


def half(rider: str) -> str:
    return "validation" if int(hashlib.sha1(rider.encode()).hexdigest(), 16) % 2 == 0 else "test"


def shares(names: list[str], counts: np.ndarray, unit: np.ndarray, labels: dict[str, str], n: int = 10) -> Shares:
    """rider → (share of the n nearest labelled neighbours with the same label, random rate), riders ≥ 5 results."""
    labelled = np.array([r in labels for r in names])
    pool = Counter(labels[r] for r in names if r in labels)
    size = sum(pool.values())
    out = {}
    for i in np.flatnonzero(labelled & (counts >= 5)):
        sims = unit @ unit[i]
        keep = (sims > 0) & labelled
        keep[i] = False
        sims = np.where(keep, sims, -np.inf)
        top = [j for j in np.argpartition(-sims, n - 1)[:n] if np.isfinite(sims[j])]
        own = labels[names[i]]
        out[names[i]] = (float(np.mean([labels[names[j]] == own for j in top])) if top else 0.0,
                         (pool[own] - 1) / (size - 1))
    return out


def _ratio(sh: Shares, part: str) -> tuple[float, float, float, int]:
    keys = [k for k in sh if part == "all" or half(k) == part]
    s, r = np.array([sh[k][0] for k in keys]), np.array([sh[k][1] for k in keys])
    picks = np.random.default_rng(0).integers(0, len(s), size=(1000, len(s)))
    lo, hi = np.percentile(s[picks].mean(1) / r[picks].mean(1), [2.5, 97.5])
    return float(s.mean() / r.mean()), float(lo), float(hi), len(keys)


def report(config: str, sh: Shares, base: Shares | None) -> float:
    v, t, a = _ratio(sh, "validation"), _ratio(sh, "test"), _ratio(sh, "all")
    extra: dict[str, object] = {"test": round(t[0], 3), "test_ci95": [round(t[1], 2), round(t[2], 2)],
                                "all": round(a[0], 3), "all_ci95": [round(a[1], 2), round(a[2], 2)],
                                "riders_validation": v[3], "riders_test": t[3]}
    if base is not None:
        keys = [k for k in sh if half(k) == "validation"]
        sa, sb = np.array([base[k][0] for k in keys]), np.array([sh[k][0] for k in keys])
        r = np.array([sh[k][1] for k in keys])
        picks = np.random.default_rng(0).integers(0, len(keys), size=(1000, len(keys)))
        d = (sb[picks].mean(1) - sa[picks].mean(1)) / r[picks].mean(1)
        extra["delta_validation"] = round(float((sb.mean() - sa.mean()) / r.mean()), 3)
        extra["delta_ci95"] = [round(float(x), 3) for x in np.percentile(d, [2.5, 97.5])]
    emit(NAME, f"{config}: specialty ratio, validation half", v[0], "x", **extra)
    return v[0]


def main() -> None:
    from scipy import sparse

    from shipml.apps.cycling.evaluation import specialty_labels
    from shipml.apps.cycling.factor_model import EvidenceBlend, WalkBlend
    from shipml.apps.cycling.graph import walk_view
    from shipml.apps.cycling.importers import load_shared
    from shipml.apps.cycling.model import fit_results
    from shipml.apps.cycling.similarity import unit_rows
    from shipml.apps.cycling.weighting import FINE_BINS, weighted_matrix

    results, riders = load_shared(SHARED / "cycling")
    labels = specialty_labels(riders)
    blends = {w: fit_results(EvidenceBlend(evidence_weight=w), results) for w in (1.0, 1.5, 2.0)}
    names, counts = list(blends[1.5].riders), blends[1.5].counts

    def unit(m: np.ndarray) -> np.ndarray:
        return np.asarray(unit_rows(np.asarray(m, dtype=np.float64)), dtype=np.float64)

    base = shares(names, counts, unit(blends[1.5].rider_vectors), labels)
    report("factors_evidence w=1.5 (promoted before)", base, None)
    matrix = weighted_matrix(results, FINE_BINS, 5)
    graph = sparse.csr_matrix(matrix.values @ matrix.race_profiles())
    grid: list[tuple[float, str]] = []
    for power in (1.5, 2.0, 3.0):
        for alpha in (0.3, 0.5, 0.7):
            view = walk_view(graph, power, alpha)
            for w, blend in blends.items():
                for a in (0.75, 1.0, 1.5, 2.0):
                    config = f"walk power {power:g} alpha {alpha:g}, evidence weight {w:g}, walk weight {a:g}"
                    v = report(config, shares(names, counts, unit(np.hstack([unit(blend.rider_vectors), a * view])),
                                              labels), base)
                    grid.append((v, config))
    best = max(grid)
    emit(NAME, "chosen on the validation half", best[0], "x", chosen=best[1])
    model = fit_results(WalkBlend(), results)
    report("WalkBlend() as shipped (its defaults = the chosen line)",
           shares(list(model.riders), model.counts, unit(model.rider_vectors), labels), base)
    if "--grid-only" in sys.argv:
        return
    # variants tried on top of the chosen walk blend (none kept)
    chosen = shares(names, counts, unit(model.rider_vectors), labels)
    view = walk_view(graph, 2.0, 0.7)
    b2 = unit(blends[2.0].rider_vectors)
    variants: dict[str, Callable[[], np.ndarray]] = {
        "walk view alone": lambda: view,
        "walk view on single editions (not pooled)": lambda: np.hstack([b2, walk_view(matrix.values, 2.0, 0.7)]),
        "walk weight x (1 + 5/results)": lambda: np.hstack([b2, (1 + 5 / counts)[:, None] * view]),
    }
    for config, make in variants.items():
        report(f"{config} (vs factors_evidence)", shares(names, counts, unit(make()), labels), base)
        report(f"{config} (vs the chosen walk blend)", shares(names, counts, unit(make()), labels), chosen)


if __name__ == "__main__":
    main()
