"""The one interface of every show recommender (after implicit's ``RecommenderBase``).

A model is fitted once on a users × items matrix of likes and then answers for *anyone* from the items they
liked alone (fold-in): no user id, no retraining. Subclasses say how a set of liked items scores every item
(:meth:`Recommender._scores`) and how much each liked item contributes to one item's score
(:meth:`Recommender._contributions`, for "because you liked …"); ranking, exclusion, ties and persistence live
here, once:

* a recommendation never contains an item the user gave, nor one in ``exclude``;
* items a model cannot score (score ``-inf``) and items no one liked in the fit data are never returned, so a
  list can be shorter than ``n``;
* ties are broken by popularity (number of users who liked the item in the fit data), then by item index.

Fitted models hold only numpy arrays and plain values, so they pickle small and load without the library that
trained them (implicit is needed at fit time only).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
from scipy import sparse

from shipml.core.errors import InvalidInput

Scored = list[tuple[int, float]]


def as_likes_matrix(likes: Any) -> sparse.csr_matrix:
    """``likes`` as a float32 CSR matrix without explicit zeros; negative weights are rejected."""
    matrix = sparse.csr_matrix(likes, dtype=np.float32, copy=True)
    matrix.eliminate_zeros()
    matrix.sort_indices()
    if matrix.nnz and float(matrix.data.min()) < 0:
        raise InvalidInput("likes must be non-negative (1 for a like, or a positive weight)")
    return matrix


def top_items(scores: np.ndarray, popularity: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` best finite scores, best first; ties by popularity (higher first), then index."""
    candidates = np.flatnonzero(np.isfinite(scores))
    if n <= 0 or candidates.size == 0:
        return np.empty(0, dtype=np.int64)
    values = scores[candidates]
    if candidates.size > n:
        kth = np.partition(values, candidates.size - n)[candidates.size - n]  # the n-th largest score
        keep = values >= kth  # every item tied with the n-th stays in, so the tie-break can see it
        candidates, values = candidates[keep], values[keep]
    order = np.lexsort((candidates, -popularity[candidates], -values))
    return candidates[order[:n]]


def strongest(weights: np.ndarray, given: np.ndarray, popularity: np.ndarray, k: int) -> list[list[int]]:
    """For each column of ``weights`` (``[given, items]``: what each given item adds to each item), the (at most
    ``k``) given items with a positive weight, strongest first; ties go to the more popular, then the lower index.
    All columns are ordered at once (one sort of the matrix, not one per item)."""
    if weights.shape[1] == 0:
        return []
    shape = weights.shape
    order = np.lexsort((np.broadcast_to(given[:, None], shape), np.broadcast_to(-popularity[:, None], shape),
                        -weights), axis=0)[:k]  # per column: positive weights first, strongest first
    top = given[order]
    positive = np.take_along_axis(weights, order, axis=0) > 0
    return [top[positive[:, column], column].tolist() for column in range(shape[1])]


class Recommender:
    """Base of every model. Subclasses set :attr:`name` and :attr:`hyperparameters` and implement
    :meth:`_fit`, :meth:`_scores` and :meth:`_contributions`."""

    name = "base"
    hyperparameters: tuple[str, ...] = ()

    n_items: int = 0
    popularity: np.ndarray

    @property
    def params(self) -> dict[str, Any]:
        """Everything that defines the model, flat (logged to MLflow)."""
        return {"kind": self.name, **{h: getattr(self, h) for h in self.hyperparameters}}

    def __repr__(self) -> str:
        inside = ", ".join(f"{h}={getattr(self, h)!r}" for h in self.hyperparameters)
        return f"{type(self).__name__}({inside})"

    # -- fitting -----------------------------------------------------------------------------------------------

    def fit(self, likes: sparse.spmatrix | sparse.sparray | np.ndarray) -> Self:
        """Learn from a users × items matrix of likes (binary, or positive weights) and precompute what a
        fold-in query needs."""
        matrix = as_likes_matrix(likes)
        self.n_items = int(matrix.shape[1])
        self.popularity = np.asarray(matrix.getnnz(axis=0), dtype=np.float64)
        self._unliked = np.flatnonzero(self.popularity == 0)
        self._fit(matrix)
        return self

    def _fit(self, likes: sparse.csr_matrix) -> None:
        raise NotImplementedError

    # -- queries -----------------------------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not self.n_items:
            raise InvalidInput(f"{type(self).__name__} is not fitted: call fit() first")

    def _items(self, items: Iterable[int], what: str) -> np.ndarray:
        """Unique item indices, checked against the catalog."""
        self._check_fitted()
        array = np.unique(np.asarray(list(items), dtype=np.int64))
        bad = array[(array < 0) | (array >= self.n_items)]
        if bad.size:
            raise InvalidInput(f"{what}: item indices {bad[:5].tolist()} are outside the catalog "
                               f"(0..{self.n_items - 1})")
        return array

    def _scores(self, liked: np.ndarray) -> np.ndarray:
        """A fresh float array over all items: higher is better, ``-inf`` = cannot recommend."""
        raise NotImplementedError

    def scores(self, liked: Sequence[int]) -> np.ndarray:
        """Raw scores of every item for someone who liked ``liked`` (liked items not masked)."""
        return self._scores(self._items(liked, "liked"))

    def recommend(self, liked: Sequence[int], n: int = 20, exclude: set[int] | None = None) -> Scored:
        """The ``n`` best items for someone who liked ``liked`` (item indices), as ``(item, score)``, best first.

        Computed from the liked items alone (fold-in). Liked items and ``exclude`` are never returned.
        """
        given = self._items(liked, "liked")
        return self._ranked(given, self._scores(given), n, exclude)

    def recommend_many(self, likes: Sequence[Sequence[int]], n: int = 20) -> list[Scored]:
        """:meth:`recommend` for each set of liked items (a batch of requests), equal to asking one at a time;
        a model that scores several sets faster at once says how in :meth:`_scores_many`."""
        given = [self._items(liked, "liked") for liked in likes]
        return [self._ranked(g, scores, n) for g, scores in zip(given, self._scores_many(given), strict=True)]

    def _ranked(self, given: np.ndarray, scores: np.ndarray, n: int, exclude: set[int] | None = None) -> Scored:
        scores[given] = -np.inf
        scores[self._unliked] = -np.inf
        if exclude:
            scores[self._items(exclude, "exclude")] = -np.inf
        return [(int(i), float(scores[i])) for i in top_items(scores, self.popularity, n)]

    def _scores_many(self, given: list[np.ndarray]) -> list[np.ndarray]:
        """:meth:`_scores` of each set of liked items."""
        return [self._scores(g) for g in given]

    def similar_items(self, item: int, n: int = 10) -> Scored:
        """The ``n`` items most related to ``item``, best first (by default: what someone who liked only
        ``item`` would be recommended)."""
        return self.recommend([item], n)

    def _contributions(self, liked: np.ndarray, item: int) -> np.ndarray:
        """How much each liked item adds to ``item``'s score (aligned with ``liked``)."""
        raise NotImplementedError

    def _contributions_many(self, liked: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``[liked, items]``: column ``k`` is :meth:`_contributions` of ``items[k]`` (a model that has them in
        one matrix reads them at once)."""
        if items.size == 0:
            return np.zeros((liked.size, 0))
        return np.column_stack([np.asarray(self._contributions(liked, int(item)), dtype=np.float64)
                                for item in items])

    def because(self, liked: Sequence[int], item: int, k: int = 2) -> list[int]:
        """The (at most ``k``) liked items that contribute most to recommending ``item``, strongest first; only
        items with a positive contribution count ("because you liked …")."""
        return self.because_each(liked, [item], k)[0]

    def because_each(self, liked: Sequence[int], items: Sequence[int], k: int = 2) -> list[list[int]]:
        """:meth:`because` for each of ``items`` (the liked items checked once)."""
        given = self._items(liked, "liked")
        self._items(items, "item")  # raises for an item outside the catalog
        if given.size == 0 or k <= 0:
            return [[] for _ in items]
        return strongest(self._contributions_many(given, np.asarray(items, dtype=np.int64)), given,
                         self.popularity[given], k)

    # -- persistence -------------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Pickle the fitted model to ``path`` (numpy arrays and plain values only)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """A model saved by :meth:`save` (a trusted file: pickle runs code). Raises InvalidInput when the file
        holds something else than a ``cls``."""
        try:
            with Path(path).open("rb") as f:
                model = pickle.load(f)  # noqa: S301 - our own model files only
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ModuleNotFoundError) as exc:
            raise InvalidInput(f"cannot load a model from {path}: {exc}") from exc
        if not isinstance(model, cls):
            raise InvalidInput(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model
