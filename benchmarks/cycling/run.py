"""Cycling figures on all shared cycling data: import time, training time, specialty agreement (every
candidate and the original recipe), holdout Spearman, and similar-riders latency — in the model and over HTTP
(`POST /api/cycling/similar` with filters, sequential requests from a second process).

Issue 22: the evidence weight of `factors_evidence` is chosen on a validation half of the riders (slug hash even)
and its agreement reported on the other half (odd), beside the factor model's and `factors_evidence_walk`'s (its
defaults were chosen on the same validation half: `walk_grid.py`) on the same halves; neighbours always come from
every labelled rider. `--split-only` runs only that part.

    .venv/bin/python benchmarks/cycling/run.py [--split-only]
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import SHARED, emit, serving  # noqa: E402

NAME = "cycling"
FOLDER = SHARED / "cycling"
HTTP_CLIENT = """
import random, statistics, sys, time, httpx
base, n = sys.argv[1], int(sys.argv[2])
with httpx.Client(base_url=base, timeout=10) as c:
    riders = [r["rider"] for r in c.get("/api/cycling/riders", params={"limit": 1000}).json()["riders"]]
    rnd = random.Random(0)
    times = []
    for i in range(n):
        body = {"rider": rnd.choice(riders), "n": 10}
        if i % 2:
            body.update(age_min=22, age_max=34)
        t = time.perf_counter()
        r = c.post("/api/cycling/similar", json=body)
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, r.text
times.sort()
print(times[len(times) // 2] * 1e3, times[int(len(times) * 0.99)] * 1e3)
"""


EVIDENCE_WEIGHTS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)


def half(rider: str) -> str:
    """A fixed split of riders into a validation and a test half (SHA-1 of the slug: even or odd)."""
    return "validation" if int(hashlib.sha1(rider.encode()).hexdigest(), 16) % 2 == 0 else "test"


def split_figures(results, riders) -> None:  # type: ignore[no-untyped-def]
    """Evidence weight chosen on the validation half, agreement reported on the test half."""
    from shipml.apps.cycling.evaluation import specialty_agreement, specialty_labels
    from shipml.apps.cycling.factor_model import EvidenceBlend, FactorModel, WalkBlend
    from shipml.apps.cycling.model import fit_results

    labels = specialty_labels(riders)
    halves = {name: {r for r in riders["rider"] if half(r) == name} for name in ("validation", "test")}
    models = {"factor_als": FactorModel(), **{f"factors_evidence w={w:g}": EvidenceBlend(evidence_weight=w)
                                              for w in EVIDENCE_WEIGHTS},
              "factors_evidence_walk (defaults)": WalkBlend()}
    chosen: tuple[float, str] = (-1.0, "")
    for name, model in models.items():
        fit_results(model, results)
        for part, members in halves.items():
            f = specialty_agreement(model, labels, queried=members)
            emit(NAME, f"{name}: specialty agreement / random rate, {part} half of the riders", f["specialty_ratio"],
                 "x", ci95=[round(x, 3) for x in f["specialty_ratio_ci"]], riders_queried=f["specialty_riders"],
                 agreement=round(f["specialty_agreement"], 4), random_rate=round(f["random_rate"], 4))
            if part == "validation" and name.startswith("factors_evidence w="):
                chosen = max(chosen, (f["specialty_ratio"], name))
    emit(NAME, "evidence weight chosen on the validation half", chosen[0], "x", chosen=chosen[1])


def main() -> None:
    from shipml.apps.cycling.evaluation import evaluate
    from shipml.apps.cycling.importers import load_shared
    from shipml.apps.cycling.model import from_params, original_cosine
    from shipml.apps.cycling.tasks import candidates

    started = time.perf_counter()
    results, riders = load_shared(FOLDER)
    emit(NAME, "import all shared cycling data (64 Markdown pages, TT CSVs, riders info, saved PCS pages)",
         time.perf_counter() - started, "s", results=results.height, riders=riders.height,
         riders_with_nationality=int(riders["nationality"].is_not_null().sum()))
    split_figures(results, riders)
    if "--split-only" in sys.argv:
        return

    configs = {**{name: partial(from_params, params) for name, params in candidates().items()},
               "original_recipe": original_cosine}
    for name, factory in configs.items():
        f = evaluate(factory, results, riders, seed=0)
        extra = {"model": name, "riders_in_model": f["riders"]}
        emit(NAME, f"{name}: specialty agreement of 10 neighbours (riders >= 5 results)",
             f["specialty_agreement"], "share", random_rate=round(f["random_rate"], 4), **extra)
        emit(NAME, f"{name}: specialty agreement / random rate", f["specialty_ratio"], "x",
             ci95=[round(x, 3) for x in f.get("specialty_ratio_ci", [])], **extra)
        emit(NAME, f"{name}: holdout Spearman (user-kNN on the model's neighbours)", f["holdout_spearman_knn"],
             "rho", **extra)
        emit(NAME, f"{name}: build matrix + fit on all shared data", f["fit_seconds"], "s", **extra)
        emit(NAME, f"{name}: similar_riders p99 in the model", f["query_p99_ms"], "ms", **extra)

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SHIPML_HOME": tmp}
        code = ("import time; from shipml.core import db; db.migrate()\n"
                "from shipml.apps.cycling import tasks\n"
                "from shipml.core.training import select_and_promote\n"
                f"tasks.ingest({str(FOLDER)!r})\n"
                "t = time.perf_counter(); select_and_promote(tasks.model_spec()); print(time.perf_counter() - t)")
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        emit(NAME, "shipml train cycling end to end (evaluate every candidate, fit, log to MLflow, promote)",
             float(out.stdout.strip().splitlines()[-1]), "s")
        with serving(env) as base:
            timings = subprocess.run([sys.executable, "-c", HTTP_CLIENT, base, "1000"], capture_output=True,
                                     text=True, check=True).stdout.split()
            p50, p99 = float(timings[0]), float(timings[1])
            emit(NAME, "POST /api/cycling/similar p50 over HTTP (1,000 sequential requests, half with an age "
                 "filter)", p50, "ms")
            emit(NAME, "POST /api/cycling/similar p99 over HTTP (same)", p99, "ms")

if __name__ == "__main__":
    main()
