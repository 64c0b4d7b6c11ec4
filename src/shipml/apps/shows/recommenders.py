"""Show recommenders: one interface (:class:`Recommender`), four models and five for short profiles.

* :class:`Popularity` — the most liked shows; the floor every model must beat.
* :class:`ItemKnnGraph` — the original app's recipe, kept exactly for comparison: cosine between shows on
  binary likes, each show linked to its 5 nearest shows; a recommendation is a neighbour of the input shows,
  ranked by how many input shows link to it (votes), ties broken by popularity.
* :class:`~shipml.apps.shows.recommenders_matrix.Ease` — EASE^R (Steck 2019), a closed-form item-item model;
  the promoted default (see :mod:`.evaluation` and ``benchmarks/shows_models``).
* :class:`~shipml.apps.shows.recommenders_matrix.Als` — implicit-feedback ALS (implicit), with exact fold-in.
* for short profiles (:mod:`.recommenders_short`): :class:`Rp3Beta`, :class:`ShortEase` (EASE fitted to predict a
  user's other likes from 5 of them) and :class:`ByProfileLength` (ShortEase for up to 5 liked items, EASE above);
  (:mod:`.recommenders_rerank`) :class:`ShortRerank` (ShortEase's top 50 re-ranked by LightGBM LambdaRank trained
  on random 5-subsets of the fit users' likes) and :class:`ByProfileLengthRerank` (it for up to 5, EASE above).

Every model answers from the liked items alone (fold-in), in well under a millisecond on the TV catalog: what a
query needs is precomputed at fit time (neighbour lists, the dense item-item matrix, the factor Gram matrix).
:func:`make` builds a model from its :attr:`~Recommender.params`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from shipml.apps.shows.recommenders_base import Recommender, Scored, as_likes_matrix, top_items
from shipml.apps.shows.recommenders_matrix import Als, Ease
from shipml.apps.shows.recommenders_rerank import ByProfileLengthRerank, ShortRerank
from shipml.apps.shows.recommenders_short import ByProfileLength, Rp3Beta, ShortEase
from shipml.core.errors import InvalidInput

__all__ = ["Als", "ByProfileLength", "ByProfileLengthRerank", "Ease", "ItemKnnGraph", "MODELS", "Popularity",
           "Recommender", "Rp3Beta", "Scored", "ShortEase", "ShortRerank", "as_likes_matrix", "cosine_neighbours",
           "make", "top_items"]


class Popularity(Recommender):
    """Recommend the most liked items (number of users who liked each in the fit data)."""

    name = "popularity"

    def _fit(self, likes: sparse.csr_matrix) -> None:
        pass

    def _scores(self, liked: np.ndarray) -> np.ndarray:
        return self.popularity.copy()

    def _contributions(self, liked: np.ndarray, item: int) -> np.ndarray:
        return np.zeros(liked.size)  # nobody's taste explains a popular show


def cosine_neighbours(likes: sparse.csr_matrix, k: int, popularity: np.ndarray,
                      block: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Each item's ``k`` nearest other items by cosine on binary likes (users × items), best first.

    Only items with a positive cosine (at least one user in common) are neighbours; missing slots are −1 with
    similarity 0. Ties are broken by popularity, then index. The item × item product is computed ``block``
    columns at a time, so memory stays ``n_items × block``.

    Returns:
        ``(indices int32 [n_items, k], similarities float32 [n_items, k])``.
    """
    binary = sparse.csr_matrix(likes, dtype=np.float32, copy=True)
    binary.data[:] = 1.0
    n = binary.shape[1]
    counts = np.asarray(binary.getnnz(axis=0), dtype=np.float64)
    unit = sparse.csc_matrix(binary @ sparse.diags((1.0 / np.sqrt(np.maximum(counts, 1.0))).astype(np.float32)))
    unit_t = sparse.csr_matrix(unit.T)
    indices = np.full((n, k), -1, dtype=np.int32)
    sims = np.zeros((n, k), dtype=np.float32)
    for start in range(0, n, block):
        stop = min(n, start + block)
        cosines = np.asarray((unit_t @ unit[:, start:stop]).toarray())
        for j in range(start, stop):
            column = cosines[:, j - start]
            column[j] = 0.0
            column = np.where(column > 1e-9, column, -np.inf)
            best = top_items(column, popularity, k)
            indices[j, : best.size] = best
            sims[j, : best.size] = column[best]
    return indices, sims


class ItemKnnGraph(Recommender):
    """The original recommender: item-kNN on binary likes turned into a graph.

    Each item links to its ``neighbours`` (5) most cosine-similar items. For a set of liked items, a candidate's
    score is its number of votes: how many liked items link to it. Only linked items can be recommended (a list
    may be shorter than ``n``); equal votes are ordered by popularity. ``similar_items`` returns up to
    ``similar_kept`` (50) cosine neighbours.
    """

    name = "item_knn_graph"
    hyperparameters = ("neighbours",)
    similar_kept = 50

    def __init__(self, neighbours: int = 5) -> None:
        if neighbours < 1:
            raise InvalidInput("neighbours must be at least 1")
        self.neighbours = neighbours

    def _fit(self, likes: sparse.csr_matrix) -> None:
        kept = max(self.neighbours, self.similar_kept)
        self._similar, self._similarity = cosine_neighbours(likes, kept, self.popularity)
        self._graph = np.ascontiguousarray(self._similar[:, : self.neighbours])

    @property
    def graph(self) -> np.ndarray:
        """``[n_items, neighbours]`` neighbour indices (−1 = no neighbour), nearest first."""
        return self._graph

    def _scores(self, liked: np.ndarray) -> np.ndarray:
        links = self._graph[liked].ravel()
        votes = np.bincount(links[links >= 0], minlength=self.n_items).astype(np.float64)
        return np.where(votes > 0, votes, -np.inf)

    def similar_items(self, item: int, n: int = 10) -> Scored:
        i = int(self._items([item], "item")[0])
        return [(int(j), float(s)) for j, s in zip(self._similar[i, :n], self._similarity[i, :n], strict=True)
                if j >= 0]

    def _contributions(self, liked: np.ndarray, item: int) -> np.ndarray:
        links = self._graph[liked] == item
        return np.where(links.any(axis=1), (self._similarity[liked, : self.neighbours] * links).sum(axis=1), 0.0)


MODELS: dict[str, type[Recommender]] = {m.name: m for m in (Popularity, ItemKnnGraph, Ease, Als, Rp3Beta, ShortEase,
                                                              ByProfileLength, ShortRerank, ByProfileLengthRerank)}


def make(params: dict[str, Any]) -> Recommender:
    """A fresh, unfitted model from :attr:`Recommender.params` (``kind`` plus hyperparameters)."""
    options = dict(params)
    kind = options.pop("kind", None)
    if kind not in MODELS:
        raise InvalidInput(f"unknown recommender kind {kind!r}; known: {sorted(MODELS)}")
    return MODELS[kind](**options)
