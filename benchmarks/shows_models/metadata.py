"""Issue 22, third round: item metadata, several base models and a candidate union for the 5-given re-ranker.

One pass builds every feature for (a) the augmented training queries of the validation split's fit users (4 folds,
``draws`` random 5-subsets per user, every base model refitted without the user's fold, as ``ShortRerank``) and
(b) the validation users' real 5-given queries (base models fitted on all the fit users). Candidates are the union
of the top 50 of ShortEase (λ=3, given 5), EASE λ=200 and RP3beta (α 0.5, β 0.25); a flag
says which were in ShortEase's top 50, so the "ShortEase top 50 only" variant is a row subset of the same data.
Then LightGBM LambdaRank is fitted on feature subsets / candidate sets / tree counts and scored on validation
(NDCG@10, Recall@20, paired bootstrap difference to ShortEase λ=3 alone and to the served re-ranker's features).

Features beyond ``ShortRerank``'s 14: EASE λ=200 and RP3beta score, global rank and score over the query's best;
the original graph's votes; genre overlap of the candidate with the 5 given (largest and mean Jaccard, cosine
with the given genre profile, share of the candidate's genres among the given ones); MyAnimeList metadata of the
candidate (community score, log members, log episodes) and its distance to the given titles' means; franchise
(a given title with the same title stem).

Co-likers (added after the first grid): among the fit users who liked ≥ 2 (≥ 3) of the 5 given titles, the share
who also liked the candidate and how many there are, and a user-kNN vote.

Result (2026-12-04, anime TV, validation 618 users / test 773 users, 5 given): no configuration beats the served
re-ranker's 14 features beyond the selection noise (validation 0.552–0.562 against 0.5568). The two validation
choices, once each on test: + MAL metadata 0.5465 (served features 0.5475) and + co-likers + genres + MAL metadata
0.5468 (served features 0.5467, paired difference 0.000 [−0.003, +0.003]): 1.30× the graph either way. The union
raises the candidates' recall from 0.52 to 0.62 without moving NDCG@10; ordered by the truth, ShortEase's top 50
would give NDCG@10 0.89 (``oracle``): the room is in the ordering, but neither the metadata, the other models'
scores nor the co-likers tell it. Every figure: /work/notes/shows.md (merged into benchmarks/README.md).

    OPENBLAS_NUM_THREADS=1 nice -n 19 flock -s /work/notes/quiet.lock .venv/bin/python \
        benchmarks/shows_models/metadata.py build [validation|test]   # features → /tmp/shows_meta2_<split>.npz
    ... metadata.py fit [validation|test] [configuration …]             # the grid of rankers on the cached features
    ... metadata.py oracle [validation|test]                            # NDCG@10 of the candidates ordered by truth
    (SHOWS_META_DRAWS, SHOWS_META_TREES, SHOWS_META_LEAVES, SHOWS_META_OBJECTIVE, SHOWS_META_MIN_CHILD: draws per
    fit user (8), trees (200), leaves (15), LightGBM objective (lambdarank), min_child_samples (100))
"""

from __future__ import annotations

import html
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from run import ANIME, NAME, anime_tv_likes, emit  # noqa: E402
from scipy import sparse  # noqa: E402

from shipml.apps.shows.evaluation import Holdout, holdout, ndcg_at, recall_at  # noqa: E402
from shipml.apps.shows.recommenders_short import short_weights  # noqa: E402

GIVEN, FOLDS, TOP = 5, 4, 50
DRAWS = int(os.environ.get("SHOWS_META_DRAWS", "8"))  # random 5-subsets per fit user
CACHE = Path(os.environ.get("SHOWS_META_CACHE", "/tmp"))

BASE = ["score", "rank", "weight_max", "weight_second", "weight_min", "weights_positive", "cosine_max",
        "cosine_sum", "conditional_max", "conditional_mean", "log_popularity", "given_log_popularity_mean",
        "given_log_popularity_std", "given_cosine_mean"]
MODELS = ["short_rel", "short_grank", "ease_score", "ease_rel", "ease_grank", "rp3_score", "rp3_rel", "rp3_grank",
          "graph_votes"]
GENRE = ["genre_jaccard_max", "genre_jaccard_mean", "genre_profile_cosine", "genre_covered", "genre_count"]
META = ["mal_score", "log_members", "log_episodes", "mal_score_vs_given", "log_members_vs_given",
        "log_episodes_vs_given"]
FRANCHISE = ["same_stem"]
USERS = ["colikers2_share", "colikers3_share", "colikers2_log_count", "colikers3_log_count", "user_knn_rel"]
FEATURES = BASE + MODELS + GENRE + META + FRANCHISE + USERS


def stem(title: str) -> str:
    """A franchise key: the lower-case title before a colon, a season word or a number."""
    head = re.split(r"[:!(]|\s(?:season|2nd|3rd|\d)|\s\d", title.lower())[0]
    return re.sub(r"[^a-z0-9]+", " ", head).strip()


def item_metadata(items: tuple[Any, ...]) -> dict[str, np.ndarray]:
    """Genres (items × genres, binary), community score, members, episodes and title stem of each catalog item."""
    info = pl.read_csv(ANIME / "anime_info.dat", separator="\t", quote_char=None, infer_schema_length=0)
    by_id = {int(r["anime_ids"]): r for r in info.to_dicts()}
    genres = sorted({g.strip() for r in by_id.values() for g in (r["genre"] or "").split(",") if g.strip()})
    column = {g: k for k, g in enumerate(genres)}
    n = len(items)
    matrix = np.zeros((n, len(genres)), dtype=np.float32)
    score, members, episodes = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    stems = []
    for j, item in enumerate(items):
        row = by_id.get(int(item))
        if row is None:
            stems.append(f"?{j}")
            continue
        for g in (row["genre"] or "").split(","):
            if g.strip():
                matrix[j, column[g.strip()]] = 1.0

        def number(text: Any) -> float:
            try:
                return float(text)
            except (TypeError, ValueError):
                return float("nan")

        score[j], members[j], episodes[j] = number(row["rating"]), number(row["members"]), number(row["episodes"])
        stems.append(stem(html.unescape(row["name"] or "")) or f"?{j}")
    codes = {s: k for k, s in enumerate(sorted(set(stems)))}
    return {"genres": matrix, "mal_score": score, "log_members": np.log1p(members),
            "log_episodes": np.log1p(episodes), "stem": np.asarray([codes[s] for s in stems])}


def ease(x: sparse.csr_matrix, l2: float = 200.0) -> np.ndarray:
    gram = np.asarray((x.T @ x).toarray())
    gram[np.diag_indices_from(gram)] += l2
    inverse = np.linalg.inv(gram)
    weights = inverse / -np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


def rp3(x: sparse.csr_matrix, alpha: float = 0.5, beta: float = 0.25) -> np.ndarray:
    per_user = np.asarray(x.sum(axis=1)).ravel()
    per_item = np.maximum(np.asarray(x.sum(axis=0)).ravel(), 1.0)
    user_to_item = sparse.csr_matrix(sparse.diags(1.0 / np.maximum(per_user, 1.0)) @ x)
    item_to_user = sparse.csr_matrix(sparse.diags(1.0 / per_item) @ x.T)
    weights = np.asarray((item_to_user @ user_to_item).toarray()) ** alpha / per_item**beta
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


class Stage:
    """Every base model fitted on one set of users."""

    def __init__(self, x: sparse.csr_matrix, meta: dict[str, np.ndarray]) -> None:
        self.meta = meta
        self.x, self.x_csc = x, sparse.csc_matrix(x)
        self.user_length = np.maximum(np.diff(x.indptr), 1).astype(np.float64)
        self.short = short_weights(x, 3.0, GIVEN).astype(np.float32)
        counts = np.asarray((x.T @ x).toarray(), dtype=np.float32)
        np.fill_diagonal(counts, 0.0)
        self.counts = counts
        self.popularity = np.asarray(x.sum(axis=0), dtype=np.float64).ravel()
        self.log_popularity = np.log1p(self.popularity)
        self.ease = ease(x)
        self.rp3 = rp3(x)
        size = np.maximum(self.popularity, 1.0)
        cosine = counts / np.sqrt(np.outer(size, size))
        cosine[:, self.popularity == 0] = -1.0
        links = np.argpartition(-(cosine + 1e-9 * self.popularity), 5, axis=1)[:, :5]
        self.graph = np.zeros_like(counts)
        np.put_along_axis(self.graph, links, 1.0, axis=1)
        self.graph[cosine <= 0] = 0.0
        g = meta["genres"]
        self.genre_norm = np.sqrt(g.sum(axis=1))

    def query(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(candidates: union of the three models' top TOP, in-ShortEase-top flag, features [candidates, F])."""
        scores = {name: getattr(self, name)[rows].sum(axis=0, dtype=np.float64) for name in ("short", "ease", "rp3")}
        closed = np.zeros(self.popularity.size, dtype=bool)
        closed[rows] = True
        closed |= self.popularity == 0
        ranks, tops = {}, {}
        for name, s in scores.items():
            s = np.where(closed, -np.inf, s)
            order = np.lexsort((-self.popularity, -s))
            rank = np.empty(s.size)
            rank[order] = np.arange(s.size)
            ranks[name], tops[name] = rank, order[:TOP]
        top = np.unique(np.concatenate(list(tops.values())))
        top = top[np.argsort(ranks["short"][top], kind="stable")]
        in_short = ranks["short"][top] < TOP
        return top, in_short, self.features(rows, scores, ranks, top)

    def features(self, rows: np.ndarray, scores: dict[str, np.ndarray], ranks: dict[str, np.ndarray],
                 top: np.ndarray) -> np.ndarray:
        k = top.size
        weights = np.sort(self.short[np.ix_(rows, top)], axis=0)
        counts = self.counts[np.ix_(rows, top)].astype(np.float64)
        size = np.maximum(self.popularity, 1.0)
        cosine = counts / np.sqrt(size[rows][:, None] * size[top][None, :])
        conditional = counts / size[rows][:, None]
        given_pop = self.log_popularity[rows]
        among = self.counts[np.ix_(rows, rows)] / np.sqrt(np.outer(size[rows], size[rows]))
        coherence = float(among.sum()) / max(rows.size * (rows.size - 1), 1)
        short = scores["short"]
        second = weights[-2] if rows.size > 1 else np.zeros(k)
        base = [short[top], ranks["short"][top], weights[-1], second, weights[0], (weights > 0.01).sum(axis=0),
                cosine.max(axis=0), cosine.sum(axis=0), conditional.max(axis=0), conditional.mean(axis=0),
                self.log_popularity[top], np.full(k, given_pop.mean()), np.full(k, given_pop.std()),
                np.full(k, coherence)]
        best = {n: float(np.max(s[top])) for n, s in scores.items()}
        models = [short[top] / max(best["short"], 1e-9), np.log1p(ranks["short"][top]),
                  scores["ease"][top], scores["ease"][top] / max(best["ease"], 1e-9), np.log1p(ranks["ease"][top]),
                  scores["rp3"][top], scores["rp3"][top] / max(best["rp3"], 1e-9), np.log1p(ranks["rp3"][top]),
                  self.graph[np.ix_(rows, top)].sum(axis=0)]
        g = self.meta["genres"]
        inter = g[rows] @ g[top].T  # [5, k]
        union = g[rows].sum(axis=1)[:, None] + g[top].sum(axis=1)[None, :] - inter
        jaccard = np.where(union > 0, inter / np.maximum(union, 1.0), 0.0)
        profile = g[rows].sum(axis=0)
        profile_cos = (g[top] @ profile) / np.maximum(np.linalg.norm(profile) * self.genre_norm[top], 1e-9)
        covered = (g[top] * (profile > 0)).sum(axis=1) / np.maximum(g[top].sum(axis=1), 1.0)
        genre = [jaccard.max(axis=0), jaccard.mean(axis=0), profile_cos, covered, g[top].sum(axis=1)]
        meta = []
        for name in ("mal_score", "log_members", "log_episodes"):
            values = self.meta[name]
            meta.append(values[top])
        for name in ("mal_score", "log_members", "log_episodes"):
            values = self.meta[name]
            meta.append(values[top] - np.nanmean(values[rows]) if np.isfinite(values[rows]).any()
                        else np.full(k, np.nan))
        franchise = [np.isin(self.meta["stem"][top], self.meta["stem"][rows]).astype(np.float64)]
        # co-likers: the fit users who liked at least 2 (3) of the given titles, and a user-kNN vote
        overlap = np.asarray(self.x_csc[:, rows].sum(axis=1)).ravel()
        voters = np.column_stack([overlap >= 2, overlap >= 3, overlap**2 / np.sqrt(self.user_length)])
        votes = np.asarray(self.x.T @ voters)[top]
        totals = voters[:, :2].sum(axis=0)
        users = [votes[:, 0] / max(totals[0], 1.0), votes[:, 1] / max(totals[1], 1.0), np.full(k, np.log1p(totals[0])),
                 np.full(k, np.log1p(totals[1])), votes[:, 2] / max(float(votes[:, 2].max()), 1e-9)]
        return np.column_stack(base + models + genre + meta + franchise + users).astype(np.float32)


def build(split: Holdout, meta: dict[str, np.ndarray], path: Path, seed: int = 0) -> None:
    x = sparse.csr_matrix(split.train.matrix, dtype=np.float64)
    x.data[:] = 1.0
    rng = np.random.default_rng(seed)
    fold = rng.integers(0, FOLDS, x.shape[0])
    lengths = np.diff(x.indptr)
    feats, labels, flags, groups = [], [], [], []
    started = time.perf_counter()
    for f in range(FOLDS):
        stage = Stage(sparse.csr_matrix(x[fold != f]), meta)
        for user in np.flatnonzero((fold == f) & (lengths > GIVEN)):
            items = x.indices[x.indptr[user]: x.indptr[user + 1]]
            for _ in range(DRAWS):
                drawn = rng.permutation(items)
                top, in_short, features = stage.query(drawn[:GIVEN])
                relevant = np.isin(top, drawn[GIVEN:])
                if relevant[in_short].any():
                    feats.append(features)
                    labels.append(relevant.astype(np.int8))
                    flags.append(in_short)
                    groups.append(top.size)
        print(f"fold {f} done at {time.perf_counter() - started:.0f} s", flush=True)
    stage = Stage(x, meta)
    v_feats, v_labels, v_flags, v_groups = [], [], [], []
    for given, target in zip(split.given, split.targets, strict=True):
        top, in_short, features = stage.query(given)
        v_feats.append(features)
        v_labels.append(np.isin(top, target).astype(np.int8))
        v_flags.append(in_short)
        v_groups.append(top.size)
    np.savez(path, X=np.vstack(feats), y=np.concatenate(labels), short=np.concatenate(flags),
             groups=np.asarray(groups), vX=np.vstack(v_feats), vy=np.concatenate(v_labels),
             vshort=np.concatenate(v_flags), vgroups=np.asarray(v_groups), vcounts=split.target_counts,
             seconds=time.perf_counter() - started)
    print(f"built {len(groups)} training queries, {len(v_groups)} evaluated users in "
          f"{time.perf_counter() - started:.0f} s → {path}", flush=True)


def _subset(X: np.ndarray, y: np.ndarray, short: np.ndarray, groups: np.ndarray, union: bool,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows of the ShortEase top 50 only (or all of the union); groups recounted; queries kept even if empty."""
    if union:
        return X, y, groups, np.arange(y.size)
    keep = np.flatnonzero(short)
    query = np.repeat(np.arange(groups.size), groups)
    sizes = np.bincount(query[keep], minlength=groups.size)
    return X[keep], y[keep], sizes, keep


def per_user_scores(predicted: np.ndarray, vX: np.ndarray, vy: np.ndarray, groups: np.ndarray,
                    counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NDCG@10 and Recall@20 per evaluated user when each query's candidates are ordered by ``predicted``
    (ties by the ShortEase rank, column 1)."""
    ndcg, recall = [], []
    start = 0
    for size, count in zip(groups, counts, strict=True):
        p, rank, labels = predicted[start: start + size], vX[start: start + size, 1], vy[start: start + size]
        order = np.lexsort((rank, -p))  # positions in the query, best first
        ranked = order.tolist()
        relevant = set(np.flatnonzero(labels).tolist())
        ndcg.append(ndcg_at(ranked, relevant, 10, int(count)))
        recall.append(recall_at(ranked, relevant, 20, int(count)))
        start += size
    return np.asarray(ndcg), np.asarray(recall)


def interval(a: np.ndarray, b: np.ndarray, resamples: int = 2000) -> tuple[float, float, float]:
    d = a - b
    means = d[np.random.default_rng(0).integers(0, d.size, (resamples, d.size))].mean(axis=1)
    return float(d.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


CONFIGS: dict[str, tuple[list[str], bool]] = {
    "served features (14), ShortEase top 50": (BASE, False),
    "+ base models": (BASE + MODELS, False),
    "+ genres": (BASE + GENRE, False),
    "+ MAL metadata": (BASE + META, False),
    "+ franchise": (BASE + FRANCHISE, False),
    "+ genres + franchise (catalog only)": (BASE + GENRE + FRANCHISE, False),
    "+ base models + genres + franchise": (BASE + MODELS + GENRE + FRANCHISE, False),
    "all features, ShortEase top 50": (FEATURES, False),
    "all features, union of 3 top-50s": (FEATURES, True),
    "base models + genres + franchise, union": (BASE + MODELS + GENRE + FRANCHISE, True),
    "+ co-likers": (BASE + USERS, False),
    "+ co-likers + genres + MAL metadata": (BASE + USERS + GENRE + META, False),
    "+ co-likers + genres (catalog only)": (BASE + USERS + GENRE, False),
    "all 40 features, ShortEase top 50": (FEATURES, False),
}


def fit_grid(path: Path, split_name: str, only: list[str] | None = None, trees: int = 200,
             checkpoints: tuple[int, ...] = (50, 100, 200), leaves: int = 15, lr: float = 0.1) -> None:
    import lightgbm as lgb

    data = np.load(path)
    X, y, short, groups = data["X"], data["y"], data["short"], data["groups"]
    vX, vy, vshort, vgroups, vcounts = data["vX"], data["vy"], data["vshort"], data["vgroups"], data["vcounts"]
    users = vgroups.size
    # the candidate set's recall: share of a user's targets (capped at 50) inside the candidates
    query = np.repeat(np.arange(users), vgroups)
    hits_short = np.bincount(query, weights=vy * vshort, minlength=users)
    hits_union = np.bincount(query, weights=vy, minlength=users)
    cap = np.minimum(vcounts, TOP)
    emit(NAME, f"anime {split_name}: candidate recall, ShortEase top 50", float((hits_short / cap).mean()), "ratio",
         users_scored=users)
    emit(NAME, f"anime {split_name}: candidate recall, union of 3 top-50s (mean size {vgroups.mean():.0f})",
         float((np.minimum(hits_union, cap) / cap).mean()), "ratio", users_scored=users)
    sX, sy, sgroups, _ = _subset(vX, vy, vshort, vgroups, union=False)
    col = {f: k for k, f in enumerate(FEATURES)}
    first, _ = per_user_scores(-sX[:, col["rank"]], sX, sy, sgroups, vcounts)
    emit(NAME, f"anime {split_name}: ShortEase λ=3 alone NDCG@10", float(first.mean()), "ratio", users_scored=users)
    reference = None
    for name in only or list(CONFIGS):
        features, union = CONFIGS[name]
        cols = [col[f] for f in features]
        tX, ty, tgroups, _ = _subset(X, y, short, groups, union)
        eX, ey, egroups, _ = _subset(vX, vy, vshort, vgroups, union)
        started = time.perf_counter()
        ranker = lgb.LGBMRanker(objective=os.environ.get("SHOWS_META_OBJECTIVE", "lambdarank"), n_estimators=trees,
                                num_leaves=leaves, learning_rate=lr,
                                min_child_samples=int(os.environ.get("SHOWS_META_MIN_CHILD", "100")),
                                lambdarank_truncation_level=20, random_state=0, n_jobs=1, verbose=-1)
        ranker.fit(tX[:, cols], ty, group=tgroups)
        fit_seconds = time.perf_counter() - started
        for n in checkpoints:
            predicted = ranker.booster_.predict(eX[:, cols], num_iteration=n)
            ndcg, recall = per_user_scores(predicted, eX, ey, egroups, vcounts)
            if reference is None:
                reference = ndcg
            emit(NAME, f"anime {split_name}: {name}, {n} trees NDCG@10", float(ndcg.mean()), "ratio",
                 recall_at_20=round(float(recall.mean()), 4), users_scored=users, features=len(cols),
                 training_queries=int(tgroups.size), fit_seconds_all_trees=round(fit_seconds, 1),
                 minus_shortease=[round(v, 4) for v in interval(ndcg, first)],
                 minus_first_row=[round(v, 4) for v in interval(ndcg, reference)])


def oracle(path: Path, split_name: str) -> None:
    """The room a re-ranker has: NDCG@10 when each candidate set is ordered by the truth (relevant first)."""
    data = np.load(path)
    vX, vy, vshort, vgroups, vcounts = data["vX"], data["vy"], data["vshort"], data["vgroups"], data["vcounts"]
    for union in (False, True):
        eX, ey, egroups, _ = _subset(vX, vy, vshort, vgroups, union)
        ndcg, recall = per_user_scores(ey.astype(np.float64), eX, ey, egroups, vcounts)
        emit(NAME, f"anime {split_name}: truth-ordered {'union' if union else 'ShortEase top 50'} NDCG@10 (ceiling)",
             float(ndcg.mean()), "ratio", recall_at_20=round(float(recall.mean()), 4), users_scored=vgroups.size)


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "build"
    split_name = sys.argv[2] if len(sys.argv) > 2 else "validation"
    path = CACHE / f"shows_meta2_{split_name}{'' if DRAWS == 8 else f'_draws{DRAWS}'}.npz"
    if command == "build":
        split = holdout(anime_tv_likes(), seed=0, validation=split_name == "validation", given=GIVEN)
        build(split, item_metadata(split.train.items), path)
    elif command == "oracle":
        oracle(path, split_name)
    else:
        trees = int(os.environ.get("SHOWS_META_TREES", "200"))
        fit_grid(path, split_name, only=sys.argv[3:] or None, trees=trees,
                 leaves=int(os.environ.get("SHOWS_META_LEAVES", "15")),
                 checkpoints=tuple(n for n in (50, 100, 200) if n <= trees))


if __name__ == "__main__":
    main()
