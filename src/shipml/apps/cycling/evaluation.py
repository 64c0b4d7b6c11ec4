"""How good are a similarity model's neighbours? Two measures, one entry point (:func:`evaluate`).

1. **Holdout ranking.** A seeded random ``fraction`` of the finished (rider, race-column) cells is held out:
   every result row of a held-out cell is removed before the matrix is built, so the model never sees it.
   The model is fitted on the rest and predicts each held-out cell that it can (rider and column still in the
   training matrix). For every race column with at least ``min_riders`` predictable held-out riders we take the
   Spearman correlation between the predictions and the actual finishing order (``−rank``: higher is better),
   and report the mean over those columns. Two predictors are scored:

   * ``holdout_spearman`` — the model's own (:meth:`~SimilarityModel.predict_scores`, the reconstruction of a
     factor model); for a model with none (the cosine baseline), the user-kNN below;
   * ``holdout_spearman_knn`` — user-kNN on the model's rider similarity, the same for every model: a held-out
     cell is predicted as ``Σ s·x / Σ s`` over the ``k`` riders most similar to the rider (cosine ``s > 0``)
     who have a training value ``x`` in that column (:func:`user_knn_scores`). This scores the neighbours
     themselves, which is what the app serves.

2. **Specialty agreement.** The model is fitted on all results (specialty labels are never an input). For every
   rider with at least ``min_results`` finished results and a dominant specialty, we take their ``n`` nearest
   neighbours among the riders with a dominant specialty and count the share that has the same one. The random
   rate is its expectation for ``n`` riders drawn at random from the same pool: ``(n_s − 1)/(N − 1)`` for a rider
   of specialty ``s``, averaged over the queried riders (≈ the sum of squared specialty shares). A seeded
   bootstrap over the queried riders gives a 95 % interval of the ratio.

:func:`evaluate` also reports fit time, ``similar_riders`` latency (p50/p99) and the share of low-confidence riders.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection
from typing import Any

import numpy as np
import polars as pl
from scipy import sparse

from shipml.apps.cycling.schema import dominant_specialty
from shipml.apps.cycling.similarity import SimilarityModel, Vectors, row_vector
from shipml.apps.cycling.weighting import COLUMN_KEYS, MATRIX_KINDS, finished, weighted_matrix

ModelFactory = Callable[[], SimilarityModel]
RESULT_BUCKETS: tuple[tuple[int, int | None], ...] = ((5, 9), (10, 24), (25, None))


def user_knn_scores(unit_riders: Vectors, values: sparse.csr_matrix, rows: np.ndarray, cols: np.ndarray,
                    k: int = 20) -> np.ndarray:
    """User-kNN prediction of cells ``(rows[i], cols[i])``.

    The prediction is the similarity-weighted mean ``Σ s·x / Σ s`` of the values ``x`` in that column of the
    ``k`` riders most similar to the rider (cosine ``s > 0``) who have a value there; when there is none, the
    column's mean value.
    """
    by_column = sparse.csc_matrix(values)
    out = np.empty(len(rows), dtype=np.float64)
    for i, (r, c) in enumerate(zip(rows, cols, strict=True)):
        start, end = by_column.indptr[c], by_column.indptr[c + 1]
        others, x = by_column.indices[start:end], by_column.data[start:end]
        keep = others != r
        others, x = others[keep], x[keep]
        if len(others) == 0:
            out[i] = 0.0
            continue
        sims = np.asarray(unit_riders[others] @ row_vector(unit_riders, int(r))).ravel()
        if len(sims) > k:
            top = np.argpartition(-sims, k - 1)[:k]
            sims, x_top = sims[top], x[top]
        else:
            x_top = x
        positive = sims > 0
        out[i] = float(sims[positive] @ x_top[positive] / sims[positive].sum()) if positive.any() else x.mean()
    return out


def holdout_split(results: pl.DataFrame, fraction: float = 0.1, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split into (training results, held-out cells).

    Held-out cells are a seeded random ``fraction`` of the distinct finished (race column, rider) cells of the
    matrix kinds (one-day, stage, GC; the points/KOM/youth standings stay in training), one row
    each with the best rank; the training results are all rows of ``results`` outside those cells (unfinished
    rows included).
    """
    keys = [*COLUMN_KEYS, "rider"]
    with_key = results.with_columns(pl.col("stage").fill_null("").alias("_stage"))
    cell_keys = ["race", "year", "kind", "_stage", "rider"]
    cells = (
        with_key.filter(finished("rank", "status") & pl.col("kind").is_in(MATRIX_KINDS))
        .group_by(cell_keys).agg(pl.col("rank").min())
        .sort(cell_keys)
    )
    rng = np.random.default_rng(seed)
    chosen = np.zeros(cells.height, dtype=bool)
    chosen[rng.choice(cells.height, size=int(round(fraction * cells.height)), replace=False)] = True
    held = cells.filter(pl.Series(chosen))
    train = with_key.join(held.select(cell_keys), on=cell_keys, how="anti").drop("_stage")
    held = held.with_columns(pl.col("_stage").replace("", None).alias("stage")).select([*keys, "rank"])
    return train, held


def _mean_spearman(frame: pl.DataFrame, prediction: str, min_riders: int) -> tuple[float, int]:
    from scipy.stats import spearmanr  # here: scipy.stats takes 0.5 s to import, and the API and worker import this

    values = []
    for part in frame.partition_by(list(COLUMN_KEYS)):
        if part.height < min_riders:
            continue
        rho = spearmanr(part[prediction].to_numpy(), -part["rank"].to_numpy()).statistic
        values.append(0.0 if np.isnan(rho) else float(rho))  # constant predictions carry no order
    return (float(np.mean(values)) if values else float("nan")), len(values)


def holdout_ranking(model_factory: ModelFactory, results: pl.DataFrame, fraction: float = 0.1, seed: int = 0,
                    min_riders: int = 5, k: int = 20) -> dict[str, Any]:
    """Fit on all but a held-out sample of cells and score the predicted order of the held-out riders."""
    train, held = holdout_split(results, fraction, seed)
    model = model_factory()
    matrix = weighted_matrix(train, model.weighting, model.min_results)
    started = time.perf_counter()
    model.fit(matrix)
    fit_seconds = time.perf_counter() - started
    rows = np.array([matrix.rider_index.get(r, -1) for r in held["rider"]], dtype=np.int64)
    cols = np.array([matrix.column_index.get((r, y, kd, s), -1)  # type: ignore[call-overload]
                     for r, y, kd, s in held.select(COLUMN_KEYS).iter_rows()], dtype=np.int64)
    ok = (rows >= 0) & (cols >= 0)
    knn = user_knn_scores(model.unit_rider_vectors, matrix.values, rows[ok], cols[ok], k)
    own = model.predict_scores(rows[ok], cols[ok])
    predictable = held.filter(pl.Series(ok)).with_columns(
        own=pl.Series(knn if own is None else own, dtype=pl.Float64), knn=pl.Series(knn, dtype=pl.Float64))
    rho_own, n_columns = _mean_spearman(predictable, "own", min_riders)
    rho_knn, _ = _mean_spearman(predictable, "knn", min_riders)
    return {"holdout_cells": held.height, "holdout_predictable": int(ok.sum()), "holdout_races": n_columns,
            "holdout_spearman": rho_own, "holdout_spearman_knn": rho_knn, "holdout_fit_seconds": fit_seconds}


def specialty_agreement(model: SimilarityModel, specialties: dict[str, str], min_results: int = 5,
                        n: int = 10, seed: int = 0, queried: Collection[str] | None = None) -> dict[str, Any]:
    """Share of each rider's ``n`` nearest neighbours with the same dominant specialty, vs random riders.

    The share is taken over the neighbours the model returns (at most ``n``: riders with a positive cosine); a
    rider with none counts as 0.

    Args:
        model: a fitted model.
        specialties: rider slug → dominant specialty (evaluation labels; never given to the model).
        min_results: only riders with at least this many finished results are queried.
        n: neighbours per rider.
        seed: seed of the bootstrap over queried riders that gives ``specialty_ratio_ci`` (2.5–97.5 %).
        queried: only these riders are queried (e.g. a validation or a test half of the riders); their
            neighbours still come from every labelled rider.
    """
    labelled = np.array([specialties.get(r) is not None for r in model.riders])
    pool = Counter(specialties[r] for r, ok in zip(model.riders, labelled, strict=True) if ok)
    size = sum(pool.values())
    asked = np.array([queried is None or r in queried for r in model.riders], dtype=bool)
    queries = np.flatnonzero(labelled & (model.counts >= min_results) & asked)
    shares, randoms, per_rider = [], [], []
    for i in queries:
        rider = model.riders[i]
        own = specialties[rider]
        neighbours = model.similar_riders(rider, n, candidates=labelled)
        share = float(np.mean([specialties[r] == own for r, _ in neighbours])) if neighbours else 0.0
        shares.append(share)
        randoms.append((pool[own] - 1) / (size - 1) if size > 1 else 0.0)
        per_rider.append((int(model.counts[i]), share, randoms[-1]))
    agreement = float(np.mean(shares)) if shares else float("nan")
    random_rate = float(np.mean(randoms)) if randoms else float("nan")
    by_results = {}
    for low, high in RESULT_BUCKETS:
        inside = [(s, r) for c, s, r in per_rider if c >= low and (high is None or c <= high)]
        if inside:
            a, b = np.mean([s for s, _ in inside]), np.mean([r for _, r in inside])
            by_results[f"{low}-{high or ''}"] = {"riders": len(inside), "agreement": float(a),
                                                 "ratio": float(a / b) if b else float("nan")}
    return {"specialty_riders": len(queries), "specialty_pool": size,
            "specialty_shares": {s: c / size for s, c in sorted(pool.items())},
            "specialty_agreement": agreement, "random_rate": random_rate,
            "specialty_ratio": agreement / random_rate if random_rate else float("nan"),
            "specialty_ratio_ci": _bootstrap_ratio(np.array(shares), np.array(randoms), seed),
            "agreement_by_results": by_results}


def _bootstrap_ratio(shares: np.ndarray, randoms: np.ndarray, seed: int, draws: int = 1000) -> tuple[float, float]:
    if len(shares) == 0:
        return (float("nan"), float("nan"))
    picks = np.random.default_rng(seed).integers(0, len(shares), size=(draws, len(shares)))
    ratios = shares[picks].mean(axis=1) / np.maximum(randoms[picks].mean(axis=1), 1e-12)
    return (float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5)))


def query_latency(model: SimilarityModel, queries: int = 500, n: int = 10, seed: int = 0) -> dict[str, float]:
    """p50/p99 milliseconds of ``similar_riders`` for random riders, with and without a candidate mask."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(model.riders), size=queries)
    mask = rng.random(len(model.riders)) < 0.5
    plain, masked = [], []
    for i in picks:
        started = time.perf_counter()
        model.similar_riders(model.riders[i], n)
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        model.similar_riders(model.riders[i], n, candidates=mask)
        masked.append(time.perf_counter() - started)
    return {"query_p50_ms": float(np.percentile(plain, 50) * 1e3),
            "query_p99_ms": float(np.percentile(plain, 99) * 1e3),
            "query_masked_p99_ms": float(np.percentile(masked, 99) * 1e3)}


def low_confidence_share(model: SimilarityModel) -> float:
    """Share of the model's riders whose embedding is flagged low-confidence."""
    return float(np.mean([model.confidence(r)["low_confidence"] for r in model.riders])) if model.riders else 0.0


def evaluate(model_factory: ModelFactory, results: pl.DataFrame, riders: pl.DataFrame | dict[str, str],
             seed: int = 0, fraction: float = 0.1, min_results: int = 5, n: int = 10) -> dict[str, Any]:
    """All figures for one model configuration.

    Args:
        model_factory: builds a fresh, unfitted model (its weighting and ``min_results`` are used).
        results: the results table.
        riders: the riders table (its dominant specialty is the label) or a ready rider → specialty map.
        seed: seed of the holdout sample (and the latency probe).
        fraction: share of finished cells held out.
        min_results: riders queried for specialty agreement need at least this many finished results.
        n: neighbours per rider for specialty agreement.
    """
    specialties = riders if isinstance(riders, dict) else specialty_labels(riders)
    figures: dict[str, Any] = {"params": model_factory().params}
    figures.update(holdout_ranking(model_factory, results, fraction, seed))
    model = model_factory()
    started = time.perf_counter()
    matrix = weighted_matrix(results, model.weighting, model.min_results)
    built = time.perf_counter()
    model.fit(matrix)
    figures["fit_seconds"] = time.perf_counter() - built
    figures["train_seconds"] = time.perf_counter() - started  # matrix + fit
    figures["riders"], figures["race_columns"] = matrix.shape
    figures.update(specialty_agreement(model, specialties, min_results, n, seed))
    figures.update(query_latency(model, seed=seed))
    figures["low_confidence_share"] = low_confidence_share(model)
    return figures


def specialty_labels(riders: pl.DataFrame) -> dict[str, str]:
    """rider slug → dominant specialty (:func:`schema.dominant_specialty`); riders without one are left out."""
    labels = riders.select("rider").with_columns(dominant_specialty(riders).alias("specialty"))
    return {r: s for r, s in labels.iter_rows() if s is not None}
