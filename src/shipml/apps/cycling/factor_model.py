"""Matrix-factorisation similarity models: riders and race columns become factor vectors.

:class:`FactorModel` methods: ``"svd"`` (truncated SVD), ``"explicit_als"`` (least squares on the observed cells
only, with rider and column biases: a missing result is missing, not a zero) or ``"implicit_als"`` (implicit's
ALS; the weighted score is the confidence of "this rider shows up here"); :class:`EvidenceBlend` puts the factor
vector beside a second view of the rider, their specialty evidence (:mod:`.views`), and :class:`WalkBlend`
adds a third, where placing-weighted random walks over the rider–race graph end (:mod:`.graph`). The shared
interface, the options ``pool_editions`` and ``center``, and the cosine queries are those of
:class:`~.similarity.SimilarityModel`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import svds

from shipml.apps.cycling.graph import walk_view
from shipml.apps.cycling.similarity import SimilarityModel, Vectors, centre_columns, unit_rows
from shipml.apps.cycling.weighting import RiderRaceMatrix
from shipml.core.errors import InvalidInput

METHODS: tuple[str, ...] = ("svd", "explicit_als", "implicit_als")


class FactorModel(SimilarityModel):
    """Matrix factorisation; riders and race columns are compared by the cosine of their factor vectors. When
    pooled, the matrix factorised is riders × race profiles and a column takes its profile's vector. ``center``
    defaults to True except for implicit ALS, whose confidences must not be negative."""

    kind = "factors"
    hyperparameters: tuple[str, ...] = ("method", "factors", "regularization", "iterations", "alpha", "seed", "center")

    def __init__(self, method: Literal["svd", "explicit_als", "implicit_als"] = "svd", factors: int = 32,
                 regularization: float = 1.0, iterations: int = 15, alpha: float = 1.0, seed: int = 0,
                 center: bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if method not in METHODS:
            raise InvalidInput(f"unknown factorisation method {method!r}; known: {', '.join(METHODS)}")
        if center and method == "implicit_als":
            raise InvalidInput("implicit ALS needs non-negative confidences: it cannot be centred")
        self.method, self.factors, self.regularization, self.iterations = method, factors, regularization, iterations
        self.alpha, self.seed = alpha, seed
        self.center = method != "implicit_als" if center is None else center

    def _vectors(self, values: sparse.csr_matrix, pool: sparse.csr_matrix | None) -> tuple[Vectors, Vectors]:
        x = centre_columns(values) if self.center else sparse.csr_matrix(values, dtype=np.float64)
        x = sparse.csr_matrix(x if pool is None else x @ pool)
        self._mean, self._rider_bias, self._column_bias = 0.0, np.zeros(x.shape[0]), np.zeros(x.shape[1])
        riders, columns = self._factorise(x)
        if pool is not None:
            columns, self._column_bias = np.asarray(pool @ columns, dtype=np.float32), pool @ self._column_bias
        return riders, columns

    def _factorise(self, values: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        if self.method == "svd":
            u, s, vt = svds(values, k=max(1, min(self.factors, min(values.shape) - 1)), random_state=self.seed)
            return (u * np.sqrt(s)).astype(np.float32), (vt.T * np.sqrt(s)).astype(np.float32)
        if self.method == "explicit_als":
            return self._explicit_als(values)
        if self.method == "implicit_als":
            from implicit.cpu.als import AlternatingLeastSquares
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1, "blas"):  # implicit warns when its model is made beside a multi-threaded BLAS
                als = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization,
                                              alpha=self.alpha, iterations=self.iterations, random_state=self.seed,
                                              num_threads=1)
            # start from the truncated SVD, not from implicit's random draw: on a small matrix a random start
            # ends in a different local optimum per seed (and per BLAS build), crossing groups half the time
            als.user_factors, als.item_factors = _svd_start(values, self.factors, self.seed)
            with threadpool_limits(1, "blas"):
                als.fit(sparse.csr_matrix(values, dtype=np.float32), show_progress=False)
            return np.asarray(als.user_factors), np.asarray(als.item_factors)
        raise InvalidInput(f"unknown factorisation method {self.method!r}; known: {', '.join(METHODS)}")

    def _explicit_als(self, values: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """ALS with biases on the observed cells: ``x ≈ μ + b_r + b_c + u_r·v_c``, L2 penalty λ."""
        rng = np.random.default_rng(self.seed)
        u = rng.normal(0, 0.1, (values.shape[0], self.factors))
        v = rng.normal(0, 0.1, (values.shape[1], self.factors))
        by_col = sparse.csr_matrix(values.T)
        mu = float(values.data.mean()) if values.nnz else 0.0
        b_r, b_c = np.zeros(values.shape[0]), np.zeros(values.shape[1])
        for _ in range(self.iterations):
            u, b_r = _ridge_rows(values, v, b_c, mu, self.regularization)
            v, b_c = _ridge_rows(by_col, u, b_r, mu, self.regularization)
        self._mean, self._rider_bias, self._column_bias = mu, b_r, b_c
        return u.astype(np.float32), v.astype(np.float32)

    def predict_scores(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        dot = np.einsum("ij,ij->i", self.rider_vectors[rows], self.race_vectors[cols])
        return self._mean + self._rider_bias[rows] + self._column_bias[cols] + dot


def _svd_start(values: sparse.csr_matrix, factors: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic ALS start: the top singular vectors scaled by sqrt(singular value), padded with zeros when the
    matrix has fewer dimensions than ``factors``."""
    k = max(1, min(factors, min(values.shape) - 1))
    u, s, vt = svds(sparse.csr_matrix(values, dtype=np.float64), k=k, random_state=seed)
    order = np.argsort(-s)
    u, s, vt = u[:, order], s[order], vt[order]
    sign = np.where(vt.sum(axis=1) < 0, -1.0, 1.0)  # singular vectors have no sign of their own: fix one
    riders = np.zeros((values.shape[0], factors), dtype=np.float32)
    columns = np.zeros((values.shape[1], factors), dtype=np.float32)
    riders[:, :k] = u * sign * np.sqrt(s)
    columns[:, :k] = vt.T * sign * np.sqrt(s)
    return riders, columns


def _ridge_rows(values: sparse.csr_matrix, other: np.ndarray, other_bias: np.ndarray, mu: float,
                reg: float) -> tuple[np.ndarray, np.ndarray]:
    """One ALS half-step: for every row, ridge regression of its residuals on ``[other factors, 1]``."""
    k = other.shape[1]
    augmented = np.hstack([other, np.ones((other.shape[0], 1))])
    out = np.zeros((values.shape[0], k + 1))
    for i in range(values.shape[0]):
        start, end = values.indptr[i], values.indptr[i + 1]
        if start < end:
            idx = values.indices[start:end]
            a, residual = augmented[idx], values.data[start:end] - mu - other_bias[idx]
            out[i] = np.linalg.solve(a.T @ a + reg * np.eye(k + 1), a.T @ residual)
    return out[:, :k], out[:, k]


class EvidenceBlend(FactorModel):
    """The factor model's rider vector beside a second view, the rider's specialty evidence
    (:func:`~.views.specialty_evidence`: top results per kind — one-day, GC, time trial, road stages and points
    standings, KOM standings): a rider is ``[unit(factors), evidence_weight · unit(evidence)]``, compared by cosine.
    Race columns keep their factor vectors (the cell predictor is the factor model's). ``evidence_weight`` 1.5 was
    chosen on a validation half of the riders (1.91× random; 2 gave 1.909×), the figures reported on the other half
    (1.84×, 95 % CI 1.71–1.97, against 1.70× for the factor model alone; benchmarks/cycling)."""

    kind = "factors_evidence"
    hyperparameters = (*FactorModel.hyperparameters, "evidence_weight")

    def __init__(self, evidence_weight: float = 1.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not evidence_weight >= 0:
            raise InvalidInput(f"evidence_weight must be >= 0, got {evidence_weight!r}")
        self.evidence_weight = float(evidence_weight)
        self._evidence: np.ndarray | None = None

    def fit(self, matrix: RiderRaceMatrix) -> SimilarityModel:
        self._evidence = matrix.evidence
        try:
            return super().fit(matrix)
        finally:
            self._evidence = None  # the fitted model keeps only its vectors

    def _vectors(self, values: sparse.csr_matrix, pool: sparse.csr_matrix | None) -> tuple[Vectors, Vectors]:
        riders, columns = super()._vectors(values, pool)
        self._factor_dims = riders.shape[1]
        self._factor_norms = np.linalg.norm(riders, axis=1)  # to undo the unit scaling in predict_scores
        evidence = np.zeros((riders.shape[0], 0)) if self._evidence is None else self._evidence
        blended = np.hstack([unit_rows(riders), self.evidence_weight * unit_rows(evidence)])
        return blended.astype(np.float32), columns

    def predict_scores(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        factors = np.asarray(self.rider_vectors)[rows, : self._factor_dims] * self._factor_norms[rows, None]
        dot = np.einsum("ij,ij->i", factors, self.race_vectors[cols])
        return self._mean + self._rider_bias[rows] + self._column_bias[cols] + dot


class WalkBlend(EvidenceBlend):
    """:class:`EvidenceBlend` with a third view, where placing-weighted random walks over the rider–race graph end
    (:func:`~.graph.walk_view`): a rider is ``[unit([unit(factors), evidence_weight · unit(evidence)]),
    walk_weight · walk view]``, compared by cosine. The walk runs on the uncentred matrix (pooled into race profiles
    like the factors). Defaults chosen on the validation half of the riders among 3 powers × 3 alphas × 3 evidence
    weights × 4 walk weights (2.03× random against 1.91× for ``factors_evidence``; most of the grid 1.95–2.03×);
    test half 1.91× (CI 1.77–2.04) against 1.84× (benchmarks/cycling, issue 22)."""

    kind = "factors_evidence_walk"
    hyperparameters = (*EvidenceBlend.hyperparameters, "walk_weight", "walk_power", "walk_alpha")

    def __init__(self, walk_weight: float = 1.0, walk_power: float = 2.0, walk_alpha: float = 0.7,
                 evidence_weight: float = 2.0, **kwargs: Any) -> None:
        super().__init__(evidence_weight=evidence_weight, **kwargs)
        if not walk_weight >= 0 or not walk_power > 0 or not 0 <= walk_alpha < 1:
            raise InvalidInput(f"need walk_weight >= 0, walk_power > 0 and 0 <= walk_alpha < 1; got {walk_weight!r}, "
                               f"{walk_power!r}, {walk_alpha!r}")
        self.walk_weight, self.walk_power, self.walk_alpha = float(walk_weight), float(walk_power), float(walk_alpha)

    def _vectors(self, values: sparse.csr_matrix, pool: sparse.csr_matrix | None) -> tuple[Vectors, Vectors]:
        riders, columns = super()._vectors(values, pool)
        graph = sparse.csr_matrix(values if pool is None else values @ pool)
        view = walk_view(graph, self.walk_power, self.walk_alpha)
        # riders' rows keep their factor part as it is (predict_scores reads it): the view is scaled to each row's
        # length instead, which is the cosine of [unit(factors ⊕ evidence), walk_weight · view]
        scale = self.walk_weight * np.linalg.norm(riders, axis=1, keepdims=True)
        return np.hstack([riders, scale * view]).astype(np.float32), columns
