"""Models for short profiles (a visitor types up to 5 liked titles): RP3beta, EASE fitted for N given likes, and
one recommender that answers a short profile with one model and a long one with another.

* :class:`Rp3Beta` — a random walk user → item → user → item (Paudel et al. 2017; Dacrema et al. 2019), its
  transition probabilities raised to ``alpha`` and divided by the popularity of the arrival item to the ``beta``.
* :class:`ShortEase` — an item-item linear model like EASE, but fitted for the question the app asks: from a random
  ``given`` of a user's likes, predict their other likes. The expectation over the draw has a closed form, so the fit
  is one linear solve (no sampling): for a user with ``n`` likes, an item is given with probability ``q = N/n`` and
  a pair with probability ``r = N(N−1)/(n(n−1))``; with ``A = Σ_u r·x xᵀ`` (diagonal ``Σ_u q·x``) and
  ``C = Σ_u (q − r)·x xᵀ`` (zero diagonal, the pairs where one item is given and the other hidden), the weights
  are ``B = (A + λI)⁻¹ C`` with the diagonal zeroed. A user with ``n ≤ N`` likes gives them all (``q = r = 1``).
* :class:`ByProfileLength` — :class:`ShortEase` for someone who gives at most ``max_short`` likes, EASE for more.

Every score is the sum of the liked items' rows of one dense item-item matrix, as for EASE: a fold-in query costs
one row sum over the catalog.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from shipml.apps.shows.recommenders_base import Recommender
from shipml.apps.shows.recommenders_matrix import DenseItemItem, Ease
from shipml.core.errors import InvalidInput


def _binary_active(likes: sparse.csr_matrix, active: np.ndarray) -> sparse.csr_matrix:
    x = sparse.csr_matrix(likes[:, active], dtype=np.float64, copy=True)
    x.data[:] = 1.0
    return x


class Rp3Beta(DenseItemItem):
    """RP3beta: ``W[i, j] = (Σ_u P(u | i)·P(j | u))^alpha / popularity(j)^beta`` (``W[i, i] = 0``), optionally
    keeping only each item's ``neighbours`` largest weights (0 = keep all)."""

    name = "rp3beta"
    hyperparameters = ("alpha", "beta", "neighbours")

    def __init__(self, alpha: float = 0.5, beta: float = 0.25, neighbours: int = 0) -> None:
        if alpha <= 0 or beta < 0 or neighbours < 0:
            raise InvalidInput("RP3beta needs alpha > 0, beta ≥ 0 and neighbours ≥ 0")
        self.alpha, self.beta, self.neighbours = float(alpha), float(beta), int(neighbours)

    def _fit(self, likes: sparse.csr_matrix) -> None:
        self._activate()
        x = _binary_active(likes, self._active)
        per_user = np.asarray(x.sum(axis=1)).ravel()
        per_item = np.asarray(x.sum(axis=0)).ravel()
        user_to_item = sparse.csr_matrix(sparse.diags(1.0 / np.maximum(per_user, 1.0)) @ x)
        item_to_user = sparse.csr_matrix(sparse.diags(1.0 / per_item) @ x.T)
        weights = np.asarray((item_to_user @ user_to_item).toarray())
        if self.alpha != 1.0:
            np.power(weights, self.alpha, out=weights)
        weights /= per_item**self.beta
        np.fill_diagonal(weights, 0.0)
        if 0 < self.neighbours < weights.shape[1]:
            dropped = np.argpartition(-weights, self.neighbours, axis=1)[:, self.neighbours:]
            np.put_along_axis(weights, dropped, 0.0, axis=1)
        self._weights = weights.astype(np.float32)


def short_weights(x: sparse.csr_matrix, l2: float, given: int) -> np.ndarray:
    """ShortEase's closed form (see the module) on a binary users × items matrix: ``[items, items]`` float64 weights
    with a zero diagonal."""
    n = np.asarray(x.sum(axis=1)).ravel()
    many = n > given
    q = np.where(many, given / np.maximum(n, 1.0), 1.0)
    r = np.where(many, given * (given - 1) / np.maximum(n * (n - 1), 1.0), 1.0)
    pairs_given = np.asarray((x.T @ sparse.diags(r) @ x).toarray())
    pairs_given[np.diag_indices_from(pairs_given)] = np.asarray(x.T @ q).ravel()
    one_hidden = np.asarray((x.T @ sparse.diags(q - r) @ x).toarray())
    np.fill_diagonal(one_hidden, 0.0)
    pairs_given[np.diag_indices_from(pairs_given)] += l2
    weights = np.linalg.solve(pairs_given, one_hidden)
    np.fill_diagonal(weights, 0.0)
    return np.asarray(weights)


class ShortEase(DenseItemItem):
    """An item-item model fitted to predict a user's other likes from a random ``given`` of them (closed form; see
    the module). ``l2`` is on the scale of the expected co-occurrences, far smaller than EASE's."""

    name = "ease_short"
    hyperparameters = ("l2", "given")

    def __init__(self, l2: float = 3.0, given: int = 5) -> None:
        if l2 <= 0 or given < 1:
            raise InvalidInput("ease_short needs l2 > 0 and given ≥ 1")
        self.l2, self.given = float(l2), int(given)

    def _fit(self, likes: sparse.csr_matrix) -> None:
        self._activate()
        self._weights = short_weights(_binary_active(likes, self._active), self.l2, self.given).astype(np.float32)


class ByProfileLength(Recommender):
    """:class:`ShortEase` (``short_l2``, ``short_given``) for at most ``max_short`` liked items, :class:`Ease`
    (``long_l2``) for more. Both are fitted on the same likes; reasons come from the model that answered."""

    name = "by_profile_length"
    hyperparameters: tuple[str, ...] = ("max_short", "short_l2", "short_given", "long_l2")

    def __init__(self, max_short: int = 5, short_l2: float = 3.0, short_given: int = 5,
                 long_l2: float = 200.0) -> None:
        if max_short < 1:
            raise InvalidInput("max_short must be at least 1")
        self.max_short = int(max_short)
        first = ShortEase(short_l2, short_given)
        self.short: Recommender = first
        self.long = Ease(long_l2)
        self.short_l2, self.short_given, self.long_l2 = first.l2, first.given, self.long.l2

    def _fit(self, likes: sparse.csr_matrix) -> None:
        self.short.fit(likes)
        self.long.fit(likes)

    def _model(self, liked: np.ndarray) -> Recommender:
        return self.short if liked.size <= self.max_short else self.long

    def _scores(self, liked: np.ndarray) -> np.ndarray:
        return self._model(liked)._scores(liked)

    def _scores_many(self, given: list[np.ndarray]) -> list[np.ndarray]:
        """Each set scored by its model, the short ones together (:class:`ShortRerank` ranks them in one go)."""
        out: dict[int, np.ndarray] = {}
        for model in (self.short, self.long):
            mine = [i for i, g in enumerate(given) if self._model(g) is model]
            if mine:
                out.update(zip(mine, model._scores_many([given[i] for i in mine]), strict=True))
        return [out[i] for i in range(len(given))]

    def _contributions(self, liked: np.ndarray, item: int) -> np.ndarray:
        return self._model(liked)._contributions(liked, item)

    def _contributions_many(self, liked: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._model(liked)._contributions_many(liked, items)
