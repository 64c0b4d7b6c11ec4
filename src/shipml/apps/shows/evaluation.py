"""One offline protocol for every show recommender: held-out users, fold-in, top-N metrics.

Protocol (:func:`holdout`, :func:`evaluate`, :func:`compare`):

1. Users with at least ``min_likes`` (5) likes are eligible; a seeded ``fraction`` (20 %) of them are the
   held-out *test* users. With ``validation=True`` the test users are removed altogether and a second seeded
   20 % of the remaining eligible users are held out instead: hyperparameters are chosen there, never on test.
2. Every model is fitted on the likes of all other users (held-out users contribute nothing to the fit; the
   catalog is the items of the fit matrix).
3. For each held-out user a seeded 80 % of their likes are given to ``recommend`` (fold-in) and the other
   20 % (at least one) are the targets. The given likes are excluded from the recommendations.
4. Metrics, averaged over held-out users (binary relevance):
   ``recall_at_20 = hits in top 20 / min(20, |targets|)``;
   ``ndcg_at_10 = DCG@10 / IDCG@10`` with ``DCG = Σ rel_r / log2(r + 1)`` over ranks ``r = 1..10`` and IDCG the
   DCG of ``min(10, |targets|)`` hits; ``coverage_at_20`` = share of catalog items that appear in at least
   one held-out user's top 20. Targets outside the fit catalog count in ``|targets|`` and can never be hit.
   Also the fit time and the p50/p99 time of one ``recommend`` call (the user's given likes, n = 20).

*N given* (``given=N``, ``shipml eval shows --given N``): the app's own case, where a visitor types a few liked
titles. Users with at least ``N + 1`` likes are eligible (held out as in 1.); each held-out user gives a seeded
random ``N`` of their likes and *all the others* are the targets. Fewer than ``min_users`` (20) held-out users is
refused: a figure over a handful of users says nothing. ``users_scored`` says how many users every row stands on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from shipml.apps.shows.evaluation_data import LikesMatrix, likes, read_ratings, sniff_separator
from shipml.apps.shows.recommenders import Recommender
from shipml.core.errors import InvalidInput

MIN_USERS = 20  # the fewest held-out users a figure of the N-given protocol may stand on

__all__ = ["MIN_USERS", "Holdout", "LikesMatrix", "coverage", "compare", "evaluate", "holdout", "likes", "ndcg_at",
           "read_ratings", "recall_at", "sniff_separator"]

ModelFactory = Callable[[], Recommender]


def recall_at(ranked: Sequence[int], relevant: set[int], k: int = 20, n_relevant: int | None = None) -> float:
    """Hits among the first ``k`` of ``ranked`` divided by ``min(k, n_relevant)`` (``n_relevant`` defaults to
    ``len(relevant)``; pass more when some relevant items cannot be ranked at all)."""
    total = len(relevant) if n_relevant is None else n_relevant
    if total <= 0:
        raise InvalidInput("recall needs at least one relevant item")
    return sum(1 for i in ranked[:k] if i in relevant) / min(k, total)


def ndcg_at(ranked: Sequence[int], relevant: set[int], k: int = 10, n_relevant: int | None = None) -> float:
    """Binary-relevance NDCG@k: ``Σ_{r ≤ k, ranked[r] relevant} 1/log2(r + 1)`` over the same sum for
    ``min(k, n_relevant)`` hits at the top."""
    total = len(relevant) if n_relevant is None else n_relevant
    if total <= 0:
        raise InvalidInput("NDCG needs at least one relevant item")
    dcg = sum(1.0 / math.log2(r + 2) for r, i in enumerate(ranked[:k]) if i in relevant)
    ideal = sum(1.0 / math.log2(r + 2) for r in range(min(k, total)))
    return dcg / ideal


def coverage(lists: Sequence[Sequence[int]], n_items: int) -> float:
    """Share of the ``n_items`` catalog that appears in at least one list."""
    return len({i for items in lists for i in items}) / n_items if n_items else 0.0


@dataclass(frozen=True)
class Holdout:
    """A split: the fit matrix, and for each held-out user the given items (catalog indices) and the targets
    (catalog indices of those in the catalog; ``target_counts`` counts them all)."""

    train: LikesMatrix
    users: tuple[Any, ...]
    given: tuple[np.ndarray, ...]
    targets: tuple[np.ndarray, ...]
    target_counts: np.ndarray
    split: str


def _eligible_users(frame: pl.DataFrame, min_likes: int, leave_out: set[Any]) -> list[Any]:
    counts = frame.group_by("user").len()
    users = counts.filter(pl.col("len") >= min_likes)["user"].to_list()
    return sorted(u for u in users if u not in leave_out)


def _draw(users: list[Any], fraction: float, rng: np.random.Generator) -> list[Any]:
    size = max(1, round(fraction * len(users)))
    if not users:
        return []
    return sorted(users[i] for i in rng.choice(len(users), size=min(size, len(users)), replace=False))


def _among(frame: pl.DataFrame, users: list[Any]) -> pl.Expr:
    return pl.col("user").is_in(pl.Series(users, dtype=frame["user"].dtype).implode())


def holdout(frame: pl.DataFrame, seed: int = 0, fraction: float = 0.2, min_likes: int = 5,
            given_fraction: float = 0.8, validation: bool = False, max_given: int | None = None,
            given: int | None = None, min_users: int = MIN_USERS) -> Holdout:
    """Split likes ``(user, item)`` by the protocol of this module (held-out users never reach the fit).

    ``max_given`` (e.g. 5, as in the app's form) gives each held-out user only a seeded sample of that many of
    their given likes; the targets stay the same, so scores stay comparable with the full protocol.
    ``given`` (N) is the N-given protocol instead: users with at least ``max(min_likes, N + 1)`` likes are
    eligible, each held-out user gives a seeded random N of their likes and the rest are the targets; fewer than
    ``min_users`` held-out users is refused.
    Raises InvalidInput when no user has ``min_likes`` likes, or (N given) too few users qualify.
    """
    if not 0 < fraction < 1 or not 0 < given_fraction < 1 or min_likes < 2:
        raise InvalidInput("need 0 < fraction < 1, 0 < given_fraction < 1 and min_likes ≥ 2")
    if given is not None and (given < 1 or max_given is not None):
        raise InvalidInput("given must be at least 1 (and cannot be combined with max_given)")
    if given is not None:
        min_likes = max(min_likes, given + 1)
    frame = frame.select("user", "item").unique()
    rng = np.random.default_rng(seed)
    held = _draw(_eligible_users(frame, min_likes, set()), fraction, rng)
    if not held and given is None:  # N given: the count of qualifying users below says more
        raise InvalidInput(f"no user has {min_likes} likes: nothing to hold out")
    dropped: set[Any] = set()
    if validation:
        dropped = set(held)
        held = _draw(_eligible_users(frame, min_likes, dropped), fraction, np.random.default_rng([seed, 1]))
        if not held and given is None:
            raise InvalidInput("too few users for a validation split")
    if given is not None and len(held) < min_users:
        eligible = len(_eligible_users(frame, min_likes, dropped))
        raise InvalidInput(f"too few users for {given} given: {eligible} users have at least {min_likes} likes, "
                           f"so {len(held)} would be held out ({fraction:.0%}); at least {min_users} are needed. "
                           "Use a smaller N or more ratings")
    train = LikesMatrix.from_likes(frame.filter(~_among(frame, sorted(set(held) | dropped))))
    per_user = frame.filter(_among(frame, held)).group_by("user").agg(pl.col("item").sort()).sort("user")
    split_rng = np.random.default_rng([seed, 2])
    sample_rng = np.random.default_rng([seed, 3])  # apart, so max_given leaves the targets unchanged
    shown_items, targets, counts = [], [], []
    for items in per_user["item"].to_list():
        order = split_rng.permutation(len(items))
        n_given = given if given is not None else min(len(items) - 1, max(1, round(given_fraction * len(items))))
        shown = order[:n_given]
        if max_given is not None and shown.size > max_given:
            shown = sample_rng.choice(shown, size=max_given, replace=False)
        shown_items.append(train.item_indices(items[i] for i in shown))
        targets.append(train.item_indices(items[i] for i in order[n_given:]))
        counts.append(len(items) - n_given)
    return Holdout(train, tuple(per_user["user"].to_list()), tuple(shown_items), tuple(targets),
                   np.asarray(counts, dtype=np.int64),
                   ("validation" if validation else "test") + (f", {given} given" if given is not None else ""))


def evaluate(factory: ModelFactory, split: Holdout, k_recall: int = 20, k_ndcg: int = 10) -> dict[str, Any]:
    """Fit a fresh model on ``split.train`` and score its fold-in recommendations for the held-out users."""
    model = factory()
    started = time.perf_counter()
    model.fit(split.train.matrix)
    fit_seconds = time.perf_counter() - started
    n = max(k_recall, k_ndcg)
    recalls, ndcgs, lists, seconds = [], [], [], []
    for given, target, count in zip(split.given, split.targets, split.target_counts, strict=True):
        started = time.perf_counter()
        ranked = [i for i, _ in model.recommend(given.tolist(), n)]
        seconds.append(time.perf_counter() - started)
        relevant = set(target.tolist())
        recalls.append(recall_at(ranked, relevant, k_recall, int(count)))
        ndcgs.append(ndcg_at(ranked, relevant, k_ndcg, int(count)))
        lists.append(ranked[:k_recall])
    return {"params": model.params, f"recall_at_{k_recall}": float(np.mean(recalls)),
            f"ndcg_at_{k_ndcg}": float(np.mean(ndcgs)), f"coverage_at_{k_recall}": coverage(lists, model.n_items),
            "fit_seconds": fit_seconds, "recommend_p50_ms": float(np.percentile(seconds, 50) * 1e3),
            "recommend_p99_ms": float(np.percentile(seconds, 99) * 1e3), "split": split.split,
            "held_out_users": len(split.users), "users_scored": len(split.users), "fit_users": split.train.shape[0],
            "catalog_items": split.train.shape[1]}


def compare(frame: pl.DataFrame, models: dict[str, ModelFactory], seed: int = 0, validation: bool = False,
            min_rating: float | None = None, **split_options: Any) -> list[dict[str, Any]]:
    """Evaluate every model on one and the same split; one dict per model (``model`` = its key), in order.

    Args:
        frame: likes ``(user, item)``, or ratings ``(user, item, rating)`` turned into likes by
            :func:`likes` with ``min_rating``.
        models: name → factory of a fresh unfitted model.
        seed: seed of the split.
        validation: evaluate on the validation users (test users left out entirely) — for tuning.
        split_options: ``fraction``, ``min_likes``, ``given_fraction``, ``max_given``, ``given``, ``min_users``
            of :func:`holdout`.
    """
    liked = likes(frame, min_rating) if "rating" in frame.columns else frame
    split = holdout(liked, seed=seed, validation=validation, **split_options)
    return [{"model": name, **evaluate(factory, split)} for name, factory in models.items()]
