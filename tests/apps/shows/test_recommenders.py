"""Show recommenders: every personalised model stays inside a taste group; the original graph's votes and ties;
EASE's closed form; exact ALS fold-in; explanations; save/load; input checks."""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable

import numpy as np
import pytest
from scipy import sparse

from shipml.apps.shows.recommenders import (
    Als,
    Ease,
    ItemKnnGraph,
    Popularity,
    Recommender,
    cosine_neighbours,
    make,
)
from shipml.core.errors import InvalidInput

PERSONAL: dict[str, Callable[[], Recommender]] = {
    "item_knn_graph": ItemKnnGraph,
    "ease": lambda: Ease(l2=10.0),
    "als": lambda: Als(factors=4, regularization=1.0, alpha=5.0, iterations=15),
}
ALL: dict[str, Callable[[], Recommender]] = {"popularity": Popularity, **PERSONAL}


def two_groups(seed: int = 0) -> sparse.csr_matrix:
    """Two disjoint tastes: 20 users like 6–9 of shows 0–11 (group A), 40 users like 6–9 of shows 12–23 (group B,
    so group B's shows are the most popular overall)."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for user in range(60):
        group = np.arange(12) if user < 20 else np.arange(12, 24)
        chosen = rng.choice(group, size=int(rng.integers(6, 10)), replace=False)
        rows += [user] * len(chosen)
        cols += chosen.tolist()
    return sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(60, 24))


@pytest.fixture(scope="module")
def groups() -> sparse.csr_matrix:
    return two_groups()


@pytest.mark.parametrize("name", sorted(PERSONAL))
def test_every_personal_model_recommends_within_the_taste_group(name: str, groups: sparse.csr_matrix) -> None:
    model = PERSONAL[name]().fit(groups)
    for liked, group in (([0, 1, 2], range(12)), ([12, 13, 14], range(12, 24))):
        top = [i for i, _ in model.recommend(liked, n=5)]
        assert len(top) == 5
        assert set(top) <= set(group) - set(liked), (name, liked, top)


def test_popularity_ignores_taste_which_is_why_the_group_test_can_fail(groups: sparse.csr_matrix) -> None:
    top = [i for i, _ in Popularity().fit(groups).recommend([0, 1, 2], n=5)]
    assert all(i >= 12 for i in top)  # the popular group B, whatever the user liked


@pytest.mark.parametrize("name", sorted(ALL))
def test_recommend_never_returns_given_or_excluded_items(name: str, groups: sparse.csr_matrix) -> None:
    model = ALL[name]().fit(groups)
    top = [i for i, _ in model.recommend([0, 1], n=30, exclude={2, 3, 14})]
    assert not {0, 1, 2, 3, 14} & set(top)
    assert len(top) == len(set(top))
    scores = [s for _, s in model.recommend([0, 1], n=30)]
    assert scores == sorted(scores, reverse=True)


def hand_made() -> sparse.csr_matrix:
    """Users × 6 shows. Cosines: show 0 ~ 3 (1.0), 0 ~ 2 (0.707); show 1 ~ 2 and 1 ~ 4 (both 0.707); show 5 ~ 4
    (0.354). Popularity: shows 2 and 4 are liked by 4 users, the others by 2."""
    likes = [{0, 2, 3}, {0, 2, 3}, {1, 2, 4}, {1, 2, 4}, {4}, {4, 5}, {5}]
    rows = [u for u, items in enumerate(likes) for _ in items]
    cols = [i for items in likes for i in sorted(items)]
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(likes), 6))


def test_item_knn_graph_votes_and_breaks_ties_by_popularity() -> None:
    model = ItemKnnGraph(neighbours=2).fit(hand_made())
    assert model.graph[0].tolist() == [3, 2]
    assert model.graph[1].tolist() == [2, 4]  # tied cosines, tied popularity: lower index first
    assert model.graph[5].tolist() == [4, -1]  # only one show in common with anyone
    # show 2 gets two votes; shows 3 and 4 one each, and 4 is the more popular; show 5 is nobody's neighbour
    assert model.recommend([0, 1], n=10) == [(2, 2.0), (4, 1.0), (3, 1.0)]
    assert model.because([0, 1], 2) == [0, 1]
    assert model.because([0, 1], 3) == [0]
    assert model.because([0, 1], 4) == [1]
    assert model.because([0, 1], 5) == []
    similar = model.similar_items(0, n=3)
    assert [i for i, _ in similar] == [3, 2]
    assert similar[1][1] == pytest.approx(1 / math.sqrt(2), rel=1e-6)


def test_item_knn_graph_default_is_five_neighbours_of_cosine_on_binary_likes(groups: sparse.csr_matrix) -> None:
    weighted = groups.copy()
    weighted.data = np.arange(1, weighted.nnz + 1, dtype=np.float32)  # weights must not change a binary model
    model = ItemKnnGraph().fit(weighted)
    assert model.params == {"kind": "item_knn_graph", "neighbours": 5}
    binary = groups.toarray() > 0
    cos = (binary.T.astype(float) @ binary) / np.sqrt(np.outer(binary.sum(0), binary.sum(0)))
    np.fill_diagonal(cos, -1)
    for item in range(24):
        assert sorted(cos[item, model.graph[item]]) == pytest.approx(sorted(np.sort(cos[item])[-5:]), rel=1e-5)


def test_cosine_neighbours_is_the_same_in_blocks() -> None:
    matrix = two_groups(seed=3)
    popularity = np.asarray(matrix.getnnz(axis=0), dtype=float)
    whole = cosine_neighbours(matrix, 4, popularity, block=1000)
    blocks = cosine_neighbours(matrix, 4, popularity, block=5)
    np.testing.assert_array_equal(whole[0], blocks[0])
    np.testing.assert_allclose(whole[1], blocks[1])


def test_ease_closed_form_by_hand() -> None:
    # X = [[1, 1], [1, 0]], λ = 1: G = [[3, 1], [1, 2]], P = G⁻¹ = [[2, −1], [−1, 3]] / 5,
    # B[0, 1] = −P[0, 1] / P[1, 1] = 1/3, B[1, 0] = −P[1, 0] / P[0, 0] = 1/2
    model = Ease(l2=1.0).fit(sparse.csr_matrix([[1.0, 1.0], [1.0, 0.0]]))
    np.testing.assert_allclose(model.weights, [[0.0, 1 / 3], [1 / 2, 0.0]], rtol=1e-6)
    assert model.recommend([0]) == [(1, pytest.approx(1 / 3))]
    assert model.recommend([1]) == [(0, pytest.approx(1 / 2))]


def test_ease_scores_are_the_sum_of_item_rows_of_the_closed_form(groups: sparse.csr_matrix) -> None:
    model = Ease(l2=7.0).fit(groups)
    x = groups.toarray().astype(float)
    p = np.linalg.inv(x.T @ x + 7.0 * np.eye(24))
    b = np.eye(24) - p / np.diag(p)
    np.testing.assert_allclose(model.weights, b, atol=1e-5)
    np.testing.assert_allclose(model.scores([0, 3, 5]), b[[0, 3, 5]].sum(axis=0), atol=1e-5)
    contributions = b[[0, 3, 5], 7]
    expected = [i for _, i in sorted(zip(-contributions, [0, 3, 5], strict=True)) if b[i, 7] > 0][:2]
    assert model.because([0, 3, 5], 7) == expected


def test_ease_never_recommends_a_show_nobody_liked() -> None:
    matrix = sparse.csr_matrix([[1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
    for model in (Ease(1.0), Popularity(), Als(factors=2, iterations=3)):
        assert 2 not in [i for i, _ in model.fit(matrix).recommend([0], n=5)]


def test_als_fold_in_solves_the_weighted_least_squares_exactly(groups: sparse.csr_matrix) -> None:
    model = Als(factors=6, regularization=0.3, alpha=4.0, iterations=5).fit(groups)
    liked = np.array([1, 4, 7])
    x = model.user_vector(liked)
    y = model.item_factors
    confidence = np.ones(24)
    confidence[liked] = 4.0
    preference = np.zeros(24)
    preference[liked] = 1.0
    gradient = y.T @ (confidence * (y @ x - preference)) + 0.3 * x  # of ½Σ c(p − x·y)² + ½λ|x|²
    np.testing.assert_allclose(gradient, 0.0, atol=1e-8)
    np.testing.assert_allclose(model.scores(liked.tolist()), y @ x)
    # the explanation terms add up to the score
    np.testing.assert_allclose(model._contributions(liked, 9).sum(), (y @ x)[9])


@pytest.mark.parametrize("name", sorted(PERSONAL))
def test_because_names_liked_shows_of_the_same_taste(name: str, groups: sparse.csr_matrix) -> None:
    model = PERSONAL[name]().fit(groups)
    liked = [0, 1, 2, 13, 14]
    for item, _ in model.recommend(liked, n=6):
        reasons = model.because(liked, item, k=2)
        assert 1 <= len(reasons) <= 2
        assert set(reasons) <= set(liked)
        assert (reasons[0] < 12) == (item < 12), (name, item, reasons)  # the strongest reason shares the taste


@pytest.mark.parametrize("name", sorted(ALL))
def test_save_load_round_trip_gives_identical_recommendations(name: str, groups: sparse.csr_matrix,
                                                              tmp_path) -> None:
    model = ALL[name]().fit(groups)
    path = model.save(tmp_path / f"{name}.pkl")
    loaded = type(model).load(path)
    assert loaded.params == model.params
    for liked in ([0], [3, 5, 7], [12, 20, 1]):
        assert loaded.recommend(liked, 10) == model.recommend(liked, 10)
        assert loaded.similar_items(liked[0], 5) == model.similar_items(liked[0], 5)
    assert Recommender.load(path).recommend([0], 5) == model.recommend([0], 5)


def test_load_refuses_other_files(tmp_path, groups: sparse.csr_matrix) -> None:
    path = Popularity().fit(groups).save(tmp_path / "pop.pkl")
    with pytest.raises(InvalidInput, match="not a Ease"):
        Ease.load(path)
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(InvalidInput, match="cannot load"):
        Ease.load(tmp_path / "junk.pkl")
    (tmp_path / "dict.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(InvalidInput):
        Recommender.load(tmp_path / "dict.pkl")


def test_bad_queries_are_invalid_input(groups: sparse.csr_matrix) -> None:
    with pytest.raises(InvalidInput, match="not fitted"):
        Ease().recommend([1])
    model = Ease(10.0).fit(groups)
    with pytest.raises(InvalidInput, match="outside the catalog"):
        model.recommend([1, 24])
    with pytest.raises(InvalidInput, match="outside the catalog"):
        model.recommend([-1])
    with pytest.raises(InvalidInput):
        model.because([1], 99)
    with pytest.raises(InvalidInput):
        Ease(l2=0)
    with pytest.raises(InvalidInput):
        Ease().fit(sparse.csr_matrix([[1.0, -1.0]]))


def test_no_liked_shows_falls_back_to_popularity_for_ease(groups: sparse.csr_matrix) -> None:
    assert Ease(10.0).fit(groups).recommend([], 5) == [(i, 0.0) for i, _ in Popularity().fit(groups)
                                                       .recommend([], 5)]
    assert ItemKnnGraph().fit(groups).recommend([], 5) == []  # the original has nothing to say


def test_make_rebuilds_a_model_from_its_params(groups: sparse.csr_matrix) -> None:
    for factory in ALL.values():
        model = factory()
        rebuilt = make(model.params)
        assert type(rebuilt) is type(model) and rebuilt.params == model.params
    with pytest.raises(InvalidInput, match="unknown recommender"):
        make({"kind": "nope"})


def test_the_strongest_reasons_of_all_items_at_once_equal_one_item_at_a_time() -> None:
    """``strongest`` orders every column of the contributions at once; each column is what ordering its positive
    weights alone gives (strongest first, then the more popular, then the lower index): ties, zeros, negatives."""
    from shipml.apps.shows.recommenders_base import strongest

    def one_column(weight: np.ndarray, given: np.ndarray, popularity: np.ndarray, k: int) -> list[int]:
        keep = np.flatnonzero(weight > 0)
        order = np.lexsort((given[keep], -popularity[keep], -weight[keep]))
        return [int(given[keep][i]) for i in order[:k]]

    rng = np.random.default_rng(0)
    for _ in range(300):
        liked, items, k = int(rng.integers(1, 8)), int(rng.integers(0, 25)), int(rng.integers(1, 4))
        given = np.sort(rng.choice(100, liked, replace=False))
        weights = rng.integers(-2, 3, (liked, items)).astype(np.float64) / 2  # small values: many ties and zeros
        popularity = rng.integers(0, 3, liked).astype(np.float64)
        expected = [one_column(weights[:, c], given, popularity, k) for c in range(items)]
        assert strongest(weights, given, popularity, k) == expected
    assert strongest(np.array([[0.5, 0.0], [0.5, -1.0]]), np.array([7, 3]), np.array([1.0, 1.0]), 2) == [[3, 7], []]
