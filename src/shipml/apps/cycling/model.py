"""Rider, race and team similarity from the weighted rider × race-column matrix.

Every model shares one interface (:class:`~.similarity.SimilarityModel`, after implicit's ``RecommenderBase``):
``fit(matrix)`` → self, ``rider_vectors``/``race_vectors``, ``similar_riders``, ``similar_races``,
``similar_teams``, ``confidence`` and ``params``. Subclasses only say how the matrix becomes vectors:

* :class:`CosineBaseline` — a rider is their row of weighted scores, a race column its column;
* :class:`~.factor_model.FactorModel` (in :mod:`.factor_model`) — matrix factorisation: ``"svd"`` (truncated
  SVD), ``"explicit_als"`` (least squares on the observed cells only, with rider and column biases: a missing
  result is missing, not a zero) or ``"implicit_als"`` (implicit's ALS; the weighted score is the confidence of
  "this rider shows up here");
* :class:`~.factor_model.EvidenceBlend` — the factor vector beside a second view, the rider's specialty evidence
  from their top results per kind of race and the points/KOM/youth standings (:mod:`.views`);
* :class:`~.factor_model.WalkBlend` — that blend beside a third view, where placing-weighted random walks over the
  rider–race graph end (:mod:`.graph`).

Two options shared by the models: ``pool_editions`` describes a rider by race *profiles* — (race, kind, time
trial or not), all editions summed with their recency weights — rather than by single editions, so riders who
rode the same race in different years have something in common; ``center`` subtracts every column's mean from
its cells, so riders are compared on beating or trailing the field rather than on where they raced.

The defaults are the configurations chosen by :mod:`.evaluation` on all shared data (fine bins, riders with
≥ 5 results, pooled editions, centred); :func:`original_cosine` is the original app's recipe, kept for comparison.
Similarities are cosines over precomputed unit vectors: a query is one matrix-vector product plus
``argpartition``, and filters (age, nationality, ...) come in as a candidate mask. Fitted models hold only
numpy/scipy arrays and tuples, so they pickle small.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl
from scipy import sparse

from shipml.apps.cycling.factor_model import EvidenceBlend, FactorModel, WalkBlend
from shipml.apps.cycling.similarity import SimilarityModel, Vectors, centre_columns
from shipml.apps.cycling.weighting import ORIGINAL, Weighting, weighted_matrix
from shipml.core.errors import InvalidInput

__all__ = ["CosineBaseline", "EvidenceBlend", "FactorModel", "SimilarityModel", "Vectors", "WalkBlend", "fit_results",
           "from_params", "original_cosine"]


class CosineBaseline(SimilarityModel):
    """A rider is their row of weighted scores (pooled into race profiles by default), a race column its column.
    Centred by default: a plain cosine cannot tell a rider who is always 30th from one who always wins the same
    races. It has no cell predictor of its own: evaluation predicts cells by user-kNN on its similarity."""

    kind = "cosine"
    hyperparameters = ("center",)

    def __init__(self, center: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.center = center

    def _vectors(self, values: sparse.csr_matrix, pool: sparse.csr_matrix | None) -> tuple[Vectors, Vectors]:
        vectors = sparse.csr_matrix(centre_columns(values) if self.center else values, dtype=np.float32)
        riders = vectors if pool is None else sparse.csr_matrix(vectors @ pool, dtype=np.float32)
        return riders, sparse.csr_matrix(vectors.T)


def original_cosine() -> CosineBaseline:
    """The original app's recipe, for comparison: original bins and weights, riders with ≥ 25 results, one column
    per edition, plain (uncentred) cosine."""
    return CosineBaseline(center=False, weighting=ORIGINAL, min_results=25, pool_editions=False)


def from_params(params: Mapping[str, Any]) -> SimilarityModel:
    """A fresh, unfitted model from :attr:`SimilarityModel.params` (``kind``, the hyperparameters and the
    ``weighting.*`` entries): ``from_params(model.params).params == model.params``.

    Raises:
        InvalidInput: an unknown kind or parameter, or a value the model refuses.
    """
    kinds: dict[str, type[SimilarityModel]] = {CosineBaseline.kind: CosineBaseline, FactorModel.kind: FactorModel,
                                               EvidenceBlend.kind: EvidenceBlend, WalkBlend.kind: WalkBlend}
    values = dict(params)
    kind = values.pop("kind", None)
    if kind not in kinds:
        raise InvalidInput(f"unknown similarity model kind {kind!r}; known: {', '.join(kinds)}")
    weighting = Weighting.from_params({k.removeprefix("weighting."): values.pop(k)
                                       for k in list(values) if k.startswith("weighting.")})
    cls = kinds[kind]
    known = {"min_results", "pool_editions", "min_confident_results", "max_small_race_share",
             *cls.hyperparameters}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidInput(f"unknown parameters for a {kind} model: {', '.join(unknown)}")
    return cls(weighting=weighting, **values)


def fit_results(model: SimilarityModel, results: pl.DataFrame, latest_year: int | None = None) -> SimilarityModel:
    """Build the matrix with the model's own weighting and ``min_results`` and fit the model on it."""
    return model.fit(weighted_matrix(results, model.weighting, model.min_results, latest_year))
