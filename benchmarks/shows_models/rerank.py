"""Issue 22, second round: ShortEase's candidates re-ranked by LightGBM LambdaRank trained on augmented 5-given
samples (``ShortRerank``, served as ``by_profile_length_rerank``), against ShortEase and the original graph.

Protocol as ``run.py --short-only`` (``holdout(given=5)``, seed 0): every configuration is scored on the
*validation* split (test users left out); the best by NDCG@10 is then scored on the test users with 5 given and
with the full protocol, beside the original graph and the served candidates. Each row also gives the paired
difference in NDCG@10 to ``ease_short l2=3 given=5`` (the current short-profile model) with a 95 % bootstrap
interval over users (2,000 resamples). ``--latency`` times ``recommend`` for 1,000 random 5-title inputs on the
whole anime TV catalog (run it under the quiet lock).

    OPENBLAS_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/shows_models/rerank.py [anime|movielens|both]
    flock /work/notes/quiet.lock .venv/bin/python benchmarks/shows_models/rerank.py --latency
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
from run import NAME, anime_tv_likes, emit, latency, movielens_likes  # noqa: E402

from shipml.apps.shows.evaluation import Holdout, holdout, ndcg_at, recall_at  # noqa: E402
from shipml.apps.shows.recommenders import (  # noqa: E402
    ByProfileLength,
    ByProfileLengthRerank,
    Ease,
    ItemKnnGraph,
    Recommender,
    ShortEase,
    ShortRerank,
)

Factory = Callable[[], Recommender]
REFERENCE = "ease_short l2=3 given=5"


def grid() -> dict[str, Factory]:
    return {
        REFERENCE: lambda: ShortEase(3.0, 5),
        "ease_short_rerank (defaults: 50 candidates, 8 draws, 100 trees, 15 leaves, lr 0.1)": ShortRerank,
        "ease_short_rerank draws=4": lambda: ShortRerank(draws=4),
        "ease_short_rerank draws=16": lambda: ShortRerank(draws=16),
        "ease_short_rerank 100 candidates, 300 trees, lr 0.05": lambda: ShortRerank(candidates=100, trees=300,
                                                                                    learning_rate=0.05),
    }


def per_user(factory: Factory, split: Holdout) -> dict[str, Any]:
    """The evaluation protocol's figures, kept per user (for paired bootstrap intervals)."""
    model = factory()
    started = time.perf_counter()
    model.fit(split.train.matrix)
    fit_seconds = time.perf_counter() - started
    ndcg, recall = [], []
    for given, target, count in zip(split.given, split.targets, split.target_counts, strict=True):
        ranked = [i for i, _ in model.recommend(given.tolist(), 20)]
        relevant = set(target.tolist())
        ndcg.append(ndcg_at(ranked, relevant, 10, int(count)))
        recall.append(recall_at(ranked, relevant, 20, int(count)))
    return {"ndcg": np.asarray(ndcg), "recall": np.asarray(recall), "fit_seconds": fit_seconds,
            "params": model.params}


def interval(a: np.ndarray, b: np.ndarray, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``a − b`` over users and its 95 % bootstrap interval."""
    difference = a - b
    rng = np.random.default_rng(seed)
    means = difference[rng.integers(0, difference.size, (resamples, difference.size))].mean(axis=1)
    return float(difference.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def report(dataset: str, split_name: str, split: Holdout, models: dict[str, Factory]) -> dict[str, dict[str, Any]]:
    rows = {name: per_user(factory, split) for name, factory in models.items()}
    graph = next((r for n, r in rows.items() if n.startswith("item_knn_graph")), None)
    reference = rows.get(REFERENCE)
    for name, row in rows.items():
        extra: dict[str, Any] = {"dataset": dataset, "split": split_name, "model": name, "params": row["params"],
                                 "users_scored": len(split.users), "fit_seconds": round(row["fit_seconds"], 1),
                                 "recall_at_20": round(float(row["recall"].mean()), 4)}
        if graph is not None:
            extra["ndcg_over_graph"] = round(float(row["ndcg"].mean() / graph["ndcg"].mean()), 3)
        if reference is not None and row is not reference:
            diff, low, high = interval(row["ndcg"], reference["ndcg"])
            extra["ndcg_minus_ease_short"] = [round(diff, 4), round(low, 4), round(high, 4)]
        emit(NAME, f"{dataset} {split_name}: {name} NDCG@10", float(row["ndcg"].mean()), "ratio", **extra)
    return rows


def dataset_run(dataset: str, liked: Any) -> None:
    validation = holdout(liked, seed=0, validation=True, given=5)
    configs = grid()
    rows = report(dataset, "validation, 5 given", validation, configs)
    reranked = {n: r for n, r in rows.items() if n.startswith("ease_short_rerank")}
    chosen = max(reranked, key=lambda n: float(reranked[n]["ndcg"].mean()))
    emit(NAME, f"{dataset}: chosen on validation", float(reranked[chosen]["ndcg"].mean()), "ratio", chosen=chosen)
    served: dict[str, Factory] = {"item_knn_graph (original)": ItemKnnGraph, "ease l2=200": Ease,
                                  REFERENCE: configs[REFERENCE], f"{chosen} (chosen)": configs[chosen],
                                  "by_profile_length (served)": ByProfileLength,
                                  "by_profile_length_rerank (new candidate)": ByProfileLengthRerank}
    report(dataset, "test, 5 given", holdout(liked, seed=0, given=5), served)
    full = {k: v for k, v in served.items() if not k.startswith(("ease_short", REFERENCE))}
    report(dataset, "test, full protocol", holdout(liked, seed=0), full)


def main() -> None:
    if "--latency" in sys.argv:
        latency(anime_tv_likes(), {"by_profile_length_rerank": ByProfileLengthRerank,
                                   "by_profile_length": ByProfileLength})
        return
    which = next((a for a in sys.argv[1:] if not a.startswith("-")), "both")
    if which in ("anime", "both"):
        dataset_run("anime TV (like >= 7/10)", anime_tv_likes())
    if which in ("movielens", "both"):
        dataset_run("MovieLens small (like >= 4 stars)", movielens_likes())


if __name__ == "__main__":
    main()
