"""ShortEase's candidates re-ranked by a learned ranker (``ease_short_rerank``) and the lifecycle candidate that
serves it for short profiles (``by_profile_length_rerank``): what the re-ranking may and may not change, the
fallback when there is nothing to learn from, persistence, and the acceptance figures on the real anime data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from shipml.apps.shows import tasks
from shipml.apps.shows.evaluation import compare, holdout
from shipml.apps.shows.recommenders import (
    ByProfileLength,
    ByProfileLengthRerank,
    Ease,
    ItemKnnGraph,
    Recommender,
    ShortEase,
    ShortRerank,
    make,
)
from shipml.core.errors import InvalidInput


def tastes(users: int = 300) -> pl.DataFrame:
    """Two disjoint tastes over 40 shows; user ``u`` likes ``3 + u % 12`` shows of their group (a fixed pattern)."""
    rows = []
    for user in range(users):
        group = 0 if user % 2 else 20
        rows += [(f"u{user}", group + (user + k) % 20) for k in range(3 + user % 12)]
    return pl.DataFrame(rows, schema=["user", "item"], orient="row")


@pytest.fixture(scope="module")
def fitted() -> tuple[np.ndarray, ShortRerank, ShortEase]:
    likes = holdout(tastes(), given=5).train.matrix
    return likes, ShortRerank(1.0, 5, candidates=8, draws=2, trees=10).fit(likes), ShortEase(1.0, 5).fit(likes)


def test_the_ranker_only_reorders_the_first_stage_candidates(fitted) -> None:  # type: ignore[no-untyped-def]
    _, reranked, first = fitted
    assert reranked.trained_queries
    for liked in ([0, 1, 2, 3, 4], [21, 22, 23], [5]):
        top = {j for j, _ in first.recommend(liked, 8)}
        ours = reranked.recommend(liked, 20)
        assert {j for j, _ in ours[:8]} == top  # the 8 candidates come first, in the ranker's order
        assert [j for j, _ in ours[8:]] == [j for j, _ in first.recommend(liked, 20)][8:]  # then first-stage order
        assert not {j for j, _ in ours} & set(liked)


def test_reasons_come_from_the_first_stage(fitted) -> None:  # type: ignore[no-untyped-def]
    _, reranked, first = fitted
    liked = [0, 1, 2, 3, 4]
    items = [j for j, _ in reranked.recommend(liked, 5)]
    assert reranked.because_each(liked, items) == first.because_each(liked, items)


def test_without_users_to_learn_from_the_first_stage_answers_alone() -> None:
    # every user has at most 5 likes: no training query for 5 given, so no ranker
    frame = tastes().filter(pl.col("user").is_in([f"u{u}" for u in range(300) if 3 + u % 12 <= 5]))
    likes = holdout(frame, given=2, min_users=1).train.matrix
    reranked, first = ShortRerank(1.0, 5).fit(likes), ShortEase(1.0, 5).fit(likes)
    assert not reranked.trained_queries
    assert np.allclose(reranked.scores([0, 1]), first.scores([0, 1]))
    assert reranked.recommend([0, 1], 5) == first.recommend([0, 1], 5)


def test_saved_and_loaded_it_answers_the_same(fitted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, reranked, _ = fitted
    again = Recommender.load(reranked.save(tmp_path / "model.pkl"))
    assert again.recommend([0, 1, 2, 3, 4], 10) == reranked.recommend([0, 1, 2, 3, 4], 10)
    assert make(reranked.params).params == reranked.params


def test_by_profile_length_rerank_uses_ease_for_long_profiles(fitted) -> None:  # type: ignore[no-untyped-def]
    likes, _, _ = fitted
    both = ByProfileLengthRerank(max_short=5, short_l2=1.0, long_l2=50.0, draws=2).fit(likes)
    long = Ease(50.0).fit(likes)
    six = [0, 1, 2, 3, 4, 5]
    assert np.allclose(both.scores(six), long.scores(six))
    assert isinstance(both.short, ShortRerank) and both.short.trained_queries
    assert make(both.params).params == both.params and both.params["kind"] == "by_profile_length_rerank"
    # listed before by_profile_length, so that a tie with the full protocol goes to it
    names = list(tasks.candidates())
    assert names.index("by_profile_length_rerank") < names.index("by_profile_length") < names.index("ease")


@pytest.mark.parametrize("options", [{"l2": 0}, {"given": 0}, {"candidates": 1}, {"draws": 0}, {"folds": 1},
                                     {"trees": 0}, {"leaves": 1}, {"learning_rate": 0}])
def test_bad_hyperparameters_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(InvalidInput):
        ShortRerank(**options)  # type: ignore[arg-type]


def test_acceptance_five_given_the_reranked_candidate_leads(shared_data: Path) -> None:
    """Issue 22, second round, on the anime TV test users: with 5 given the re-ranked candidate scores about
    1.30× the original graph's NDCG@10 (ShortEase alone 1.28×; the goal 1.4× is not reached), and with the full
    protocol it keeps EASE's lead."""
    from shipml.apps.shows.evaluation import likes, read_ratings

    folder = shared_data / "shows" / "anime_caserec"
    ratings = read_ratings(folder / "anime_ratings.dat", "User_ID", "Anime_ID", "Feedback")
    info = pl.read_csv(folder / "anime_info.dat", separator="\t", quote_char=None)
    liked = likes(ratings.filter(pl.col("item").is_in(info.filter(pl.col("type") == "TV")["anime_ids"].implode())),
                  min_rating=7)
    models = {"graph": ItemKnnGraph, "short": ByProfileLength, "reranked": ByProfileLengthRerank}
    five = {r["model"]: r for r in compare(liked, models, seed=0, given=5)}
    assert five["reranked"]["users_scored"] > 700
    assert five["reranked"]["ndcg_at_10"] >= 1.25 * five["graph"]["ndcg_at_10"]
    assert five["reranked"]["ndcg_at_10"] > five["short"]["ndcg_at_10"]
    full = {r["model"]: r for r in compare(liked, {"ease": Ease, "reranked": ByProfileLengthRerank}, seed=0)}
    assert full["reranked"]["ndcg_at_10"] >= 0.99 * full["ease"]["ndcg_at_10"]


@pytest.fixture(scope="module")
def every_short_model(fitted) -> dict[str, Recommender]:  # type: ignore[no-untyped-def]
    likes, reranked, first = fitted
    return {"ease_short_rerank": reranked, "ease_short": first, "ease": Ease(10.0).fit(likes),
            "item_knn_graph": ItemKnnGraph().fit(likes),
            "by_profile_length": ByProfileLength(max_short=5, short_l2=1.0, long_l2=10.0).fit(likes),
            "by_profile_length_rerank": ByProfileLengthRerank(max_short=5, short_l2=1.0, long_l2=10.0, draws=2,
                                                              seed=1).fit(likes)}


@pytest.mark.parametrize("name", ["ease_short_rerank", "ease_short", "ease", "item_knn_graph", "by_profile_length",
                                  "by_profile_length_rerank"])
def test_a_batch_of_requests_is_answered_as_each_alone(every_short_model, name: str) -> None:  # type: ignore[no-untyped-def]
    """A worker scores a burst's predictions together (the re-ranker: one LightGBM call for all of them): every
    answer equals asking alone, for short and long profiles mixed, one liked show, and none."""
    model = every_short_model[name]
    asked = [[0, 1, 2, 3, 4], [21, 22, 23], [5], [], [20, 21, 22, 23, 24, 25, 26, 27], [3, 7], [30, 31, 32, 33, 34]]
    assert model.recommend_many(asked, 12) == [model.recommend(liked, 12) for liked in asked]
    assert model.recommend_many([], 12) == []


def test_reasons_read_at_once_equal_the_reasons_one_item_at_a_time(every_short_model) -> None:  # type: ignore[no-untyped-def]
    """``because_each`` reads the liked items' weights for all recommended items at once; each column is the
    item's own contributions, and an item outside the model's matrix contributes nothing."""
    for name in ("ease", "ease_short", "by_profile_length"):
        model = every_short_model[name]
        for liked in ([0, 1, 2, 3, 4], [21, 22, 23, 24, 25, 26]):
            given = np.asarray(liked)
            items = np.asarray([j for j, _ in model.recommend(liked, 15)] + [39])
            at_once = model._contributions_many(given, items)
            assert at_once.shape == (given.size, items.size)
            for k, item in enumerate(items):
                assert np.array_equal(at_once[:, k], model._contributions(given, int(item)))
    ease = every_short_model["ease"]
    full = ease.weights  # B over the whole catalog (zero where nobody liked the show)
    given, items = np.asarray([0, 1, 2]), np.arange(ease.n_items)
    assert np.allclose(ease._contributions_many(given, items), full[np.ix_(given, items)])
