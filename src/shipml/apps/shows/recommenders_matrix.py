"""The two learned models: EASE^R (item-item, closed form) and implicit-feedback ALS (latent factors).

Both keep only numpy arrays after fitting and answer a fold-in query with one small dense computation: EASE sums
the rows of its item-item matrix for the liked items; ALS solves the ``factors × factors`` least-squares system
of a new user (the Gram matrix ``YᵀY + λI`` is precomputed) and multiplies by the item factors.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, sparse

from shipml.apps.shows.recommenders_base import Recommender, Scored, top_items
from shipml.core.errors import InvalidInput


class DenseItemItem(Recommender):
    """Scores = sum of the liked items' rows of a dense ``[active, active]`` matrix (items someone liked)."""

    _weights: np.ndarray

    def _activate(self) -> None:
        self._active = np.flatnonzero(self.popularity > 0)
        self._position = np.full(self.n_items, -1, dtype=np.int64)
        self._position[self._active] = np.arange(self._active.size)

    def _scores(self, liked: np.ndarray) -> np.ndarray:
        rows = self._position[liked]
        out = np.full(self.n_items, -np.inf)
        out[self._active] = self._weights[rows[rows >= 0]].sum(axis=0, dtype=np.float64)
        return out

    def _contributions(self, liked: np.ndarray, item: int) -> np.ndarray:
        return self._contributions_many(liked, np.array([item], dtype=np.int64))[:, 0]

    def _contributions_many(self, liked: np.ndarray, items: np.ndarray) -> np.ndarray:
        rows, columns = self._position[liked], self._position[items]
        out = self._weights[np.ix_(np.maximum(rows, 0), np.maximum(columns, 0))].astype(np.float64)
        out[rows < 0, :] = 0.0
        out[:, columns < 0] = 0.0
        return out


class Ease(DenseItemItem):
    """EASE^R (Steck, "Embarrassingly Shallow Autoencoders", 2019).

    With ``G = XᵀX + λI`` and ``P = G⁻¹``, the item-item weights are ``B = I − P·diag(1/diag(P))`` (so
    ``B[i, j] = −P[i, j] / P[j, j]`` and ``B[j, j] = 0``). The scores for a set of liked items are the sum of
    their rows of ``B``. ``B`` is kept dense in float32 over the items someone liked in the fit data
    (2.4K TV shows → 23 MB); items no one liked are never recommended.

    Args:
        l2: the L2 penalty λ; larger favours popular items (chosen on a validation split: see ``.evaluation``).
    """

    name = "ease"
    hyperparameters = ("l2",)

    def __init__(self, l2: float = 200.0) -> None:
        if l2 <= 0:
            raise InvalidInput("l2 must be positive")
        self.l2 = float(l2)

    def _fit(self, likes: sparse.csr_matrix) -> None:
        self._activate()
        x = sparse.csc_matrix(likes[:, self._active], dtype=np.float64)
        gram = np.asarray((x.T @ x).toarray())
        gram[np.diag_indices_from(gram)] += self.l2
        inverse = np.linalg.inv(gram)
        weights = inverse / -np.diag(inverse)
        np.fill_diagonal(weights, 0.0)
        self._weights = weights.astype(np.float32)

    @property
    def weights(self) -> np.ndarray:
        """The dense item-item matrix ``B`` over the fit's liked items, expanded to the whole catalog."""
        full = np.zeros((self.n_items, self.n_items), dtype=np.float32)
        full[np.ix_(self._active, self._active)] = self._weights
        return full


class Als(Recommender):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) trained by ``implicit.cpu.als``.

    A like with weight ``w`` has confidence ``alpha·w`` (implicit's convention; unseen items confidence 1,
    preference 0). Fold-in solves, for the liked items ``L`` (weight 1 each),
    ``(YᵀY + λI + (alpha − 1)·Y_Lᵀ Y_L) x = alpha·Σ_L y_l`` exactly, and scores ``Y x``. The contribution of a
    liked item ``l`` to item ``i`` is ``alpha · y_iᵀ A⁻¹ y_l`` (they sum to the score). Similar items are the
    cosine of item factors.
    """

    name = "als"
    hyperparameters = ("factors", "regularization", "alpha", "iterations", "seed")

    def __init__(self, factors: int = 256, regularization: float = 10.0, alpha: float = 1.0, iterations: int = 15,
                 seed: int = 0) -> None:
        if factors < 1 or iterations < 1 or regularization < 0 or alpha <= 0:
            raise InvalidInput("ALS needs factors ≥ 1, iterations ≥ 1, regularization ≥ 0 and alpha > 0")
        self.factors, self.regularization, self.alpha = int(factors), float(regularization), float(alpha)
        self.iterations, self.seed = int(iterations), int(seed)

    def _fit(self, likes: sparse.csr_matrix) -> None:
        from implicit.cpu.als import AlternatingLeastSquares  # only needed to train
        from threadpoolctl import threadpool_limits

        # implicit runs its own threads: a BLAS thread pool on top of them makes training many times slower
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization,
                                            alpha=self.alpha, iterations=self.iterations, random_state=self.seed)
            model.fit(likes, show_progress=False)
        factors = np.asarray(model.item_factors, dtype=np.float64)
        self._item_factors = factors
        self._gram = factors.T @ factors + self.regularization * np.eye(factors.shape[1])
        self._gram_cholesky = linalg.cho_factor(self._gram)  # the whole system when alpha == 1
        norms = np.linalg.norm(factors, axis=1, keepdims=True)
        self._unit_items = (factors / np.maximum(norms, 1e-12)).astype(np.float32)

    @property
    def item_factors(self) -> np.ndarray:
        return self._item_factors

    def _solve(self, liked: np.ndarray, right: np.ndarray) -> np.ndarray:
        """``A⁻¹ right`` for the fold-in system ``A = YᵀY + λI + (alpha − 1)·Y_Lᵀ Y_L`` of ``liked``."""
        if self.alpha == 1.0:
            return np.asarray(linalg.cho_solve(self._gram_cholesky, right))
        y = self._item_factors[liked]
        return np.linalg.solve(self._gram + (self.alpha - 1.0) * (y.T @ y), right)

    def user_vector(self, liked: np.ndarray) -> np.ndarray:
        """The fold-in factor vector of someone who liked ``liked``."""
        return self._solve(liked, self.alpha * self._item_factors[liked].sum(axis=0))

    def _scores(self, liked: np.ndarray) -> np.ndarray:
        return self._item_factors @ self.user_vector(liked)

    def _contributions(self, liked: np.ndarray, item: int) -> np.ndarray:
        weights = self._solve(liked, self._item_factors[item])
        return self.alpha * (self._item_factors[liked] @ weights)

    def similar_items(self, item: int, n: int = 10) -> Scored:
        i = int(self._items([item], "item")[0])
        cosines = (self._unit_items @ self._unit_items[i]).astype(np.float64)
        cosines[i] = -np.inf
        cosines[self.popularity == 0] = -np.inf
        return [(int(j), float(cosines[j])) for j in top_items(cosines, self.popularity, n)]
