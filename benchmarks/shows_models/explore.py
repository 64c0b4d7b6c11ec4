"""Ideas tried for short profiles (issue 22) that were not kept, scored on the same validation split with 5 given as
``run.py``'s grid (test users left out): EDLAE (EASE with dropout-emphasis, Steck 2020), user-kNN fold-in, EASE with
a log-popularity prior, z-score blends, item metadata as side information (anime genres added to the Gram matrix as
co-occurrences; the MyAnimeList score as a prior) and a two-stage candidate + re-rank (top 100 of ease_short
re-ranked by LightGBM LambdaRank on five models' scores and ranks, trained on 5-given queries of a quarter of the fit
users). None beat ``ease_short l2=3 given=5`` by more than the noise (see benchmarks/README.md).

    OPENBLAS_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/shows_models/explore.py [anime|movielens]
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
from run import ANIME, NAME, anime_tv_likes, emit, emit_row, movielens_likes
from scipy import sparse

from shipml.apps.shows.evaluation import Holdout, evaluate, holdout
from shipml.apps.shows.recommenders import Ease, ItemKnnGraph, Popularity, Recommender, Rp3Beta, ShortEase


class Edlae(Ease):
    """EASE with the dropout-emphasis penalty ``Λ = λI + p/(1 − p)·diag(XᵀX)`` (zero diagonal kept)."""

    name = "edlae"
    hyperparameters = ("l2", "dropout")

    def __init__(self, l2: float, dropout: float) -> None:
        super().__init__(l2)
        self.dropout = dropout

    def _fit(self, likes: sparse.csr_matrix) -> None:
        self._active = np.flatnonzero(self.popularity > 0)
        self._position = np.full(self.n_items, -1, dtype=np.int64)
        self._position[self._active] = np.arange(self._active.size)
        x = sparse.csc_matrix(likes[:, self._active], dtype=np.float64)
        gram = np.asarray((x.T @ x).toarray())
        gram[np.diag_indices_from(gram)] += self.l2 + self.dropout / (1 - self.dropout) * np.diag(gram)
        inverse = np.linalg.inv(gram)
        weights = inverse / -np.diag(inverse)
        np.fill_diagonal(weights, 0.0)
        self._weights = weights.astype(np.float32)


class EasePrior(Ease):
    """EASE scores plus ``gamma`` times a per-item prior (default: log(1 + popularity))."""

    name = "ease_prior"

    def __init__(self, l2: float, gamma: float, prior: np.ndarray | None = None) -> None:
        super().__init__(l2)
        self.gamma, self.prior = gamma, prior

    def _scores(self, liked: np.ndarray) -> np.ndarray:
        prior = np.log1p(self.popularity) if self.prior is None else self.prior
        return super()._scores(liked) + self.gamma * prior


class ShortPrior(ShortEase):
    name = "ease_short_prior"

    def __init__(self, l2: float, gamma: float, prior: np.ndarray) -> None:
        super().__init__(l2, 5)
        self.gamma, self.prior = gamma, prior

    def _scores(self, liked: np.ndarray) -> np.ndarray:
        return super()._scores(liked) + self.gamma * self.prior


class ShortSide(ShortEase):
    """ease_short with ``w · FᵀF`` (items sharing genres) added to both sides of the solve."""

    name = "ease_short_genres"

    def __init__(self, l2: float, w: float, genres: sparse.csr_matrix) -> None:
        super().__init__(l2, 5)
        self.w, self.genres = w, genres

    def _fit(self, likes: sparse.csr_matrix) -> None:
        self._activate()
        x = sparse.csr_matrix(likes[:, self._active], dtype=np.float64)
        x.data[:] = 1.0
        n = np.asarray(x.sum(axis=1)).ravel()
        many = n > self.given
        q = np.where(many, self.given / np.maximum(n, 1.0), 1.0)
        r = np.where(many, self.given * (self.given - 1) / np.maximum(n * (n - 1), 1.0), 1.0)
        lhs = np.asarray((x.T @ sparse.diags(r) @ x).toarray())
        lhs[np.diag_indices_from(lhs)] = np.asarray(x.T @ q).ravel()
        right = np.asarray((x.T @ sparse.diags(q - r) @ x).toarray())
        f = self.genres[:, self._active]
        shared = self.w * np.asarray((f.T @ f).toarray())
        np.fill_diagonal(right, 0.0)
        right += shared - np.diag(np.diag(shared))
        lhs += shared
        lhs[np.diag_indices_from(lhs)] += self.l2
        weights = np.linalg.solve(lhs, right)
        np.fill_diagonal(weights, 0.0)
        self._weights = weights.astype(np.float32)


class UserKnn(Recommender):
    """Fold-in user-kNN: the ``k`` fit users sharing most likes (cosine) vote with their similarity."""

    name = "user_knn"
    hyperparameters = ("k",)

    def __init__(self, k: int) -> None:
        self.k = k

    def _fit(self, likes: sparse.csr_matrix) -> None:
        self._x = sparse.csr_matrix(likes, dtype=np.float32)
        self._x.data[:] = 1.0
        self._columns = self._x.tocsc()
        self._lengths = np.asarray(self._x.sum(axis=1)).ravel()

    def _scores(self, liked: np.ndarray) -> np.ndarray:
        overlap = np.asarray(self._columns[:, liked].sum(axis=1)).ravel()
        similarity = overlap / np.sqrt(np.maximum(self._lengths, 1.0) * max(liked.size, 1))
        k = int(min(self.k, np.count_nonzero(similarity)))
        if k == 0:
            return np.zeros(self.n_items)
        top = np.argpartition(-similarity, k - 1)[:k]
        return np.asarray(self._x[top].T @ similarity[top]).ravel().astype(np.float64)

    def _contributions(self, liked: np.ndarray, item: int) -> np.ndarray:
        return np.ones(liked.size)


class Blend(Recommender):
    """``w · z(a) + (1 − w) · z(b)`` with ``z`` the z-score over the scorable items."""

    name = "blend"

    def __init__(self, a: Recommender, b: Recommender, w: float) -> None:
        self.a, self.b, self.w = a, b, w

    def _fit(self, likes: sparse.csr_matrix) -> None:
        self.a.fit(likes)
        self.b.fit(likes)

    @staticmethod
    def _z(scores: np.ndarray) -> np.ndarray:
        finite = np.isfinite(scores)
        out = np.full(scores.size, np.nan)
        out[finite] = (scores[finite] - scores[finite].mean()) / (scores[finite].std() + 1e-12)
        return out

    def _scores(self, liked: np.ndarray) -> np.ndarray:
        out = self.w * self._z(self.a._scores(liked)) + (1 - self.w) * self._z(self.b._scores(liked))
        return np.where(np.isnan(out), -np.inf, out)

    def _contributions(self, liked: np.ndarray, item: int) -> np.ndarray:
        return np.ones(liked.size)


class Reranked(Recommender):
    """Top ``candidates`` of ease_short, re-ranked by a LightGBM LambdaRank model on every base model's score and
    rank plus log popularity; the ranker learns from 5-given queries of a quarter of the fit users (bases fitted on
    the other three quarters, then refitted on all)."""

    name = "rerank"
    candidates = 100

    def _bases(self, likes: sparse.csr_matrix) -> dict[str, Recommender]:
        return {"short": ShortEase(3.0, 5).fit(likes), "rp3": Rp3Beta(0.5, 0.25).fit(likes),
                "ease": Ease(3000.0).fit(likes), "uknn": UserKnn(100).fit(likes)}

    def _features(self, bases: dict[str, Recommender], liked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = {k: m._scores(liked) for k, m in bases.items()}
        first = scores["short"].copy()
        first[liked] = -np.inf
        first[bases["short"].popularity == 0] = -np.inf
        top = np.argpartition(-first, self.candidates)[: self.candidates]
        columns = []
        for values in scores.values():
            values = np.where(np.isfinite(values), values, -1e9)
            ranks = np.empty(values.size)
            ranks[np.argsort(-values)] = np.arange(values.size)
            columns += [values[top], ranks[top]]
        columns.append(np.log1p(bases["short"].popularity[top]))
        return top, np.column_stack(columns)

    def _fit(self, likes: sparse.csr_matrix) -> None:
        import lightgbm as lgb

        rng = np.random.default_rng(11)
        x = sparse.csr_matrix(likes)
        lengths = np.diff(x.indptr)
        queries = rng.choice(np.flatnonzero(lengths > 5), size=int((lengths > 5).sum()) // 4, replace=False)
        rest = np.ones(x.shape[0], dtype=bool)
        rest[queries] = False
        bases = self._bases(x[rest])
        features, labels, groups = [], [], []
        for user in queries:
            items = rng.permutation(x.indices[x.indptr[user]: x.indptr[user + 1]])
            top, f = self._features(bases, items[:5])
            features.append(f)
            labels.append(np.isin(top, items[5:]).astype(int))
            groups.append(top.size)
        self._ranker = lgb.LGBMRanker(n_estimators=200, learning_rate=0.05, num_leaves=31, min_child_samples=50,
                                      verbose=-1, n_jobs=1)
        self._ranker.fit(np.vstack(features), np.concatenate(labels), group=groups)
        self._base_models = self._bases(x)

    def _scores(self, liked: np.ndarray) -> np.ndarray:
        top, f = self._features(self._base_models, liked)
        out = np.full(self.n_items, -np.inf)
        out[top] = self._ranker.predict(f)
        return out

    def _contributions(self, liked: np.ndarray, item: int) -> np.ndarray:
        return np.ones(liked.size)


def anime_side(split: Holdout) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Genres (genre × item, the fit catalog's order) and the z-scored MyAnimeList score of each item."""
    info = pl.read_csv(ANIME / "anime_info.dat", separator="\t", quote_char=None)
    genres = {r["anime_ids"]: [g.strip() for g in (r["genre"] or "").split(",") if g.strip()]
              for r in info.iter_rows(named=True)}
    score = {r["anime_ids"]: r["rating"] for r in info.iter_rows(named=True)}
    items = split.train.items
    names = {g: k for k, g in enumerate(sorted({g for i in items for g in genres.get(i, [])}))}
    pairs = [(names[g], j) for j, i in enumerate(items) for g in genres.get(i, [])]
    rows, cols = zip(*pairs, strict=True)
    matrix = sparse.csr_matrix((np.ones(len(pairs)), (rows, cols)), shape=(len(names), len(items)))
    values = np.array([score.get(i) or np.nan for i in items], dtype=float)
    return matrix, np.nan_to_num((values - np.nanmean(values)) / np.nanstd(values))


def models(split: Holdout, anime: bool) -> dict[str, Callable[[], Any]]:
    out: dict[str, Callable[[], Any]] = {"popularity": Popularity, "item_knn_graph (original)": ItemKnnGraph,
                                         "ease_short l2=3 given=5 (kept)": lambda: ShortEase(3.0, 5)}
    for l2 in (10.0, 200.0, 1000.0):
        for p in (0.5, 0.75, 0.9, 0.95):
            out[f"edlae l2={l2:g} dropout={p:g}"] = lambda l2=l2, p=p: Edlae(l2, p)
    for k in (50, 100, 300):
        out[f"user_knn k={k}"] = lambda k=k: UserKnn(k)
    for g in (0.005, 0.02, 0.05):
        out[f"ease l2=500 + {g:g}·log(1+popularity)"] = lambda g=g: EasePrior(500.0, g)
    out["blend 0.5 ease l2=3000 + 0.5 rp3beta 0.5/0.25"] = lambda: Blend(Ease(3000.0), Rp3Beta(0.5, 0.25), 0.5)
    out["blend 0.5 ease_short l2=1 + 0.5 rp3beta 0.5/0.25"] = lambda: Blend(ShortEase(1.0), Rp3Beta(0.5, 0.25), 0.5)
    out["blend 0.7 ease_short l2=1 + 0.3 user_knn 100"] = lambda: Blend(ShortEase(1.0), UserKnn(100), 0.7)
    if anime:
        genres, score = anime_side(split)
        for w in (0.001, 0.01, 0.05):
            out[f"ease_short l2=3 + genres w={w:g}"] = lambda w=w: ShortSide(3.0, w, genres)
        for g in (0.01, 0.03, 0.1):
            out[f"ease_short l2=3 + {g:g}·MAL score"] = lambda g=g: ShortPrior(3.0, g, score)
    out["two-stage: ease_short top 100 → LightGBM LambdaRank"] = Reranked
    return out


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "anime"
    anime = which == "anime"
    dataset = "anime TV (like >= 7/10)" if anime else "MovieLens small (like >= 4 stars)"
    split = holdout(anime_tv_likes() if anime else movielens_likes(), seed=0, validation=True, given=5)
    knn = None
    for name, factory in models(split, anime).items():
        row = {"model": name, **evaluate(factory, split)}
        emit_row(dataset, "validation, 5 given (explore)", row)
        knn = knn or (row["ndcg_at_10"] if name.startswith("item_knn") else None)
        if knn:
            emit(NAME, f"{dataset} validation, 5 given (explore): {name} NDCG@10 / item_knn_graph",
                 row["ndcg_at_10"] / knn, "x", dataset=dataset)


if __name__ == "__main__":
    main()
