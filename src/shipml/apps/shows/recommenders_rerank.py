"""EASE fitted for N given likes, its top candidates re-ranked by a learned ranker (issue 22, second round).

:class:`ShortRerank` answers a short profile in two stages:

1. :class:`~.recommenders_short.ShortEase`'s scores (the sum of the liked items' rows of ``B``) pick the
   ``candidates`` (50) best items;
2. a LightGBM LambdaRank model orders them from 14 features of (liked items, candidate): the ShortEase score and
   rank, the largest, second largest and smallest single liked item's weight ``B[i, j]`` and how many are positive,
   the largest and summed cosine and largest and mean ``P(j | i)`` between a liked item and the candidate (likes
   co-occurrence), the candidate's log popularity, and three features of the liked set alone (mean and spread of
   its log popularity, mean cosine among the liked items).

The ranker learns the app's question with *augmented* samples: the fit users are split into ``folds`` (4); for
each fold, ShortEase and the co-occurrences are fitted on the other folds, and each of the fold's users with more
than ``given`` likes contributes ``draws`` (8) random ``given``-subsets of their likes as inputs, their other likes
being the relevant items. Then the first stage is refitted on everyone. What a query needs is two dense item ×
item matrices (``B`` and the co-occurrence counts) and the ranker: one row sum, a partition, 50 × 14 features and
a 100-tree prediction.

:class:`ByProfileLengthRerank` serves it for up to ``max_short`` liked items and EASE for more. "Because you
liked …" comes from the first stage's weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from shipml.apps.shows.recommenders_matrix import DenseItemItem
from shipml.apps.shows.recommenders_short import ByProfileLength, _binary_active, short_weights
from shipml.core.errors import InvalidInput

FEATURES = ("score", "rank", "weight_max", "weight_second", "weight_min", "weights_positive", "cosine_max",
            "cosine_sum", "conditional_max", "conditional_mean", "log_popularity", "given_log_popularity_mean",
            "given_log_popularity_std", "given_cosine_mean")


class _Stage:
    """First-stage matrices fitted on one set of users: ShortEase weights, co-occurrence counts, popularity."""

    def __init__(self, x: sparse.csr_matrix, l2: float, given: int) -> None:
        self.weights = short_weights(x, l2, given).astype(np.float32)
        counts = np.asarray((x.T @ x).toarray(), dtype=np.float32)
        np.fill_diagonal(counts, 0.0)
        self.counts = counts
        self.popularity = np.asarray(x.sum(axis=0), dtype=np.float64).ravel()
        self.log_popularity = np.log1p(self.popularity)

    def candidates(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(first-stage scores of every item, the k best items outside rows, best first)``."""
        scores = self.weights[rows].sum(axis=0, dtype=np.float64)
        open_ = scores.copy()
        open_[rows] = -np.inf
        open_[self.popularity == 0] = -np.inf
        k = int(min(k, np.isfinite(open_).sum()))
        if k <= 0:
            return scores, np.empty(0, dtype=np.int64)
        top = np.argpartition(-open_, k - 1)[:k]
        return scores, top[np.lexsort((top, -self.popularity[top], -open_[top]))]

    def features(self, rows: np.ndarray, scores: np.ndarray, top: np.ndarray) -> np.ndarray:
        k = top.size
        weights = np.sort(self.weights[np.ix_(rows, top)], axis=0)
        counts = self.counts[np.ix_(rows, top)].astype(np.float64)
        size = np.maximum(self.popularity, 1.0)
        cosine = counts / np.sqrt(size[rows][:, None] * size[top][None, :])
        conditional = counts / size[rows][:, None]
        given_pop = self.log_popularity[rows]
        if rows.size > 1:
            among = self.counts[np.ix_(rows, rows)] / np.sqrt(np.outer(size[rows], size[rows]))
            coherence = float(among.sum()) / (rows.size * (rows.size - 1))
        else:
            coherence = 0.0
        second = weights[-2] if rows.size > 1 else np.zeros(k)
        return np.column_stack([
            scores[top], np.arange(k, dtype=np.float64), weights[-1], second, weights[0], (weights > 0.01).sum(axis=0),
            cosine.max(axis=0), cosine.sum(axis=0), conditional.max(axis=0), conditional.mean(axis=0),
            self.log_popularity[top], np.full(k, given_pop.mean()), np.full(k, given_pop.std()), np.full(k, coherence),
        ])


class ShortRerank(DenseItemItem):
    """ShortEase's top ``candidates`` re-ranked by LightGBM LambdaRank (see the module).

    Args:
        l2, given: the first stage (:class:`~.recommenders_short.ShortEase`), and the number of likes each
            training sample gives.
        candidates: how many first-stage items the ranker orders (the rest follow in first-stage order).
        draws: random ``given``-subsets per fit user with more than ``given`` likes (data augmentation).
        folds: the first stage that makes a user's training features is fitted without that user's fold.
        trees, leaves, learning_rate: the LightGBM ranker.
        seed: folds, draws and the ranker.
    """

    name = "ease_short_rerank"
    hyperparameters = ("l2", "given", "candidates", "draws", "folds", "trees", "leaves", "learning_rate", "seed")

    def __init__(self, l2: float = 3.0, given: int = 5, candidates: int = 50, draws: int = 8, folds: int = 4,
                 trees: int = 100, leaves: int = 15, learning_rate: float = 0.1, seed: int = 0) -> None:
        if l2 <= 0 or given < 1 or candidates < 2 or draws < 1 or folds < 2 or trees < 1 or leaves < 2:
            raise InvalidInput("ease_short_rerank needs l2 > 0, given ≥ 1, candidates ≥ 2, draws ≥ 1, folds ≥ 2, "
                               "trees ≥ 1 and leaves ≥ 2")
        if not 0 < learning_rate <= 1:
            raise InvalidInput("learning_rate must be in (0, 1]")
        self.l2, self.given, self.candidates, self.draws = float(l2), int(given), int(candidates), int(draws)
        self.folds, self.trees, self.leaves, self.learning_rate = int(folds), int(trees), int(leaves), learning_rate
        self.seed = int(seed)

    def _samples(self, x: sparse.csr_matrix, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """Training queries: features, relevance and query sizes (users of each fold against the other folds)."""
        fold = rng.integers(0, self.folds, x.shape[0])
        lengths = np.diff(x.indptr)
        features, labels, groups = [], [], []
        for f in range(self.folds):
            users = np.flatnonzero((fold == f) & (lengths > self.given))
            if users.size == 0:
                continue
            stage = _Stage(sparse.csr_matrix(x[fold != f]), self.l2, self.given)
            for user in users:
                items = x.indices[x.indptr[user]: x.indptr[user + 1]]
                for _ in range(self.draws):
                    drawn = rng.permutation(items)
                    rows = drawn[: self.given]
                    scores, top = stage.candidates(rows, self.candidates)
                    relevant = np.isin(top, drawn[self.given:])
                    if top.size and relevant.any():  # a query with nothing relevant teaches LambdaRank nothing
                        features.append(stage.features(rows, scores, top))
                        labels.append(relevant.astype(np.int32))
                        groups.append(int(top.size))
        if not groups:
            return np.empty((0, len(FEATURES))), np.empty(0, dtype=np.int32), []
        return np.vstack(features), np.concatenate(labels), groups

    def _fit(self, likes: sparse.csr_matrix) -> None:
        self._activate()
        x = _binary_active(likes, self._active)
        features, labels, groups = self._samples(x, np.random.default_rng(self.seed))
        self._ranker: Any = None
        if len(groups) >= 2:
            import lightgbm as lgb  # only needed to train and to rank

            ranker = lgb.LGBMRanker(objective="lambdarank", n_estimators=self.trees, num_leaves=self.leaves,
                                    learning_rate=self.learning_rate, min_child_samples=100,
                                    lambdarank_truncation_level=20, random_state=self.seed, n_jobs=1, verbose=-1)
            ranker.fit(features, labels, group=groups)
            self._ranker = ranker.booster_
        self._stage = _Stage(x, self.l2, self.given)
        self._weights = self._stage.weights

    @property
    def trained_queries(self) -> bool:
        """Whether the fit data had enough users with more than ``given`` likes to train the ranker (if not, the
        first stage answers alone)."""
        return self._ranker is not None

    def _scores(self, liked: np.ndarray) -> np.ndarray:
        return self._scores_many([liked])[0]

    def _scores_many(self, given: list[np.ndarray]) -> list[np.ndarray]:
        """The first stage for each set, then one prediction of the ranker for every set's candidates (a batch of
        requests costs one call into LightGBM, not one each)."""
        firsts = []
        for liked in given:
            rows = self._position[liked]
            rows = rows[rows >= 0]
            firsts.append((rows, *self._stage.candidates(rows, self.candidates)))
        ranked: dict[int, np.ndarray] = {}
        to_rank = [i for i, (rows, _, top) in enumerate(firsts) if rows.size and top.size]
        if self._ranker is not None and to_rank:
            predicted = self._ranker.predict(np.vstack([self._stage.features(*firsts[i]) for i in to_rank]),
                                             num_threads=1)
            ends = np.cumsum([firsts[i][2].size for i in to_rank])
            ranked = dict(zip(to_rank, np.split(predicted, ends[:-1]), strict=True))
        out = []
        for i, (_, scores, top) in enumerate(firsts):
            if i in ranked:
                others = np.ones(scores.size, dtype=bool)
                others[top] = False
                floor = float(scores[others].max()) if others.any() else 0.0
                scores = scores.copy()
                scores[top] = floor + 1.0 + (ranked[i] - ranked[i].min())  # candidates first, in the ranker's order
            full = np.full(self.n_items, -np.inf)
            full[self._active] = scores
            out.append(full)
        return out


class ByProfileLengthRerank(ByProfileLength):
    """:class:`ShortRerank` for at most ``max_short`` liked items, :class:`~.recommenders_matrix.Ease`
    (``long_l2``) for more (the ranker's own hyperparameters at their defaults, but ``draws`` and ``seed``)."""

    name = "by_profile_length_rerank"
    hyperparameters = ("max_short", "short_l2", "short_given", "long_l2", "draws", "seed")

    def __init__(self, max_short: int = 5, short_l2: float = 3.0, short_given: int = 5, long_l2: float = 200.0,
                 draws: int = 8, seed: int = 0) -> None:
        super().__init__(max_short, short_l2, short_given, long_l2)
        self.short = ShortRerank(short_l2, short_given, draws=draws, seed=seed)
        self.draws, self.seed = self.short.draws, self.short.seed
