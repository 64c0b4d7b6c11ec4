"""Issue 22, third round: the saved PCS result pages as side information (scratch experiment).

`pcs_html_fixtures/` holds four race results the importer does not turn into results: the Tour of Flanders 2022 (a
cobbled classic, 167 riders), Tour de France 2022 stage 21 (a bunch sprint), 2018 stage 19 (a mountain stage) and
2018 stage 3 (a team time trial). Added as side information only — evidence columns or nodes of the walk graph, never
matrix columns (they would change which riders have >= 5 results, i.e. the population scored). Scored like
`walk_grid.py` against `factors_evidence_walk`.

    .venv/bin/python benchmarks/cycling/fixtures_side.py
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from _common import SHARED  # noqa: E402
from walk_grid import report, shares  # noqa: E402

PAGES = {"flanders": "race_ronde-van-vlaanderen_2022_result.json",
         "tdf22-s21": "race_tour-de-france_2022_stage-21.json",
         "tdf18-s19": "race_tour-de-france_2018_stage-19.json"}


def page_scores(name: str, riders: list[str], depth: int = 60) -> np.ndarray:
    """riders → depth-scored place on one saved result page (0 for riders not on it or without a rank)."""
    rows = json.loads((SHARED / "cycling" / "pcs_html_fixtures" / PAGES[name]).read_text())["results"]
    index = {r: i for i, r in enumerate(riders)}
    out = np.zeros(len(riders))
    for row in rows:
        slug = str(row["rider_url"]).removeprefix("rider/").strip("/")
        rank = int(row["rank"]) if str(row.get("rank", "")).isdigit() else None
        if slug in index and rank is not None:
            out[index[slug]] = max(0.0, 1.0 - (rank - 1) / depth) ** 2
    return out


def main() -> None:
    from scipy import sparse

    from shipml.apps.cycling.evaluation import specialty_labels
    from shipml.apps.cycling.factor_model import EvidenceBlend, WalkBlend
    from shipml.apps.cycling.graph import walk_view
    from shipml.apps.cycling.importers import load_shared
    from shipml.apps.cycling.similarity import unit_rows
    from shipml.apps.cycling.views import EVIDENCE
    from shipml.apps.cycling.weighting import FINE_BINS, weighted_matrix

    results, riders_table = load_shared(SHARED / "cycling")
    labels = specialty_labels(riders_table)
    matrix = weighted_matrix(results, FINE_BINS, 5)
    names, counts = list(matrix.riders), matrix.counts
    assert matrix.evidence is not None
    base = matrix.evidence

    def unit(m: np.ndarray) -> np.ndarray:
        return np.asarray(unit_rows(np.asarray(m, dtype=np.float64)), dtype=np.float64)

    walk = shares(names, counts, unit(WalkBlend().fit(matrix).rider_vectors), labels)
    report("factors_evidence_walk (promoted)", walk, None)
    pages = {name: page_scores(name, names) for name in PAGES}
    print({name: int((v > 0).sum()) for name, v in pages.items()}, "of the model's riders placed in the top 60",
          file=sys.stderr)
    col = {k: j for j, k in enumerate(EVIDENCE)}
    blend = unit(EvidenceBlend(evidence_weight=2.0).fit(matrix).rider_vectors)
    graph = sparse.csr_matrix(matrix.values @ matrix.race_profiles())
    mean_edge = float(graph.data.mean())
    for label, chosen in {"Flanders 2022": ["flanders"], "Flanders + TdF 2022 stage 21": ["flanders", "tdf22-s21"],
                          "all three": ["flanders", "tdf22-s21", "tdf18-s19"]}.items():
        for m in (0.5, 1.0):
            extra = np.column_stack([pages[p] / max(pages[p].sum(), 1e-12) for p in chosen])
            report(f"evidence + {label} as own columns x {m:g}",
                   shares(names, counts, unit(WalkBlend().fit(dataclasses.replace(
                       matrix, evidence=np.hstack([base, m * extra]))).rider_vectors), labels), walk)
        e = base.copy()  # the same pages folded into the evidence kinds they are (one-day, sprint, climber)
        for p, kind in (("flanders", "oneday"), ("tdf22-s21", "sprint"), ("tdf18-s19", "climber")):
            if p in chosen:
                raw = pages[p] * 2.0  # UWT
                e[:, col[kind]] = e[:, col[kind]] + raw / max(raw.sum(), 1e-12) / 10
        report(f"evidence kinds + {label} folded in (one page ~ a tenth of a kind)",
               shares(names, counts, unit(WalkBlend().fit(dataclasses.replace(matrix, evidence=e)).rider_vectors),
                      labels), walk)
        for v in (0.5, 1.0, 2.0):
            nodes = np.column_stack([pages[p] for p in chosen]) * v * mean_edge / max(
                float(np.mean([pages[p][pages[p] > 0].mean() for p in chosen])), 1e-12)
            view = walk_view(sparse.hstack([graph, sparse.csr_matrix(nodes)]).tocsr(), 2.0, 0.7)
            report(f"walk graph + {label} as race nodes (v = {v:g} x the mean edge)",
                   shares(names, counts, unit(np.hstack([blend, view])), labels), walk)


if __name__ == "__main__":
    main()
