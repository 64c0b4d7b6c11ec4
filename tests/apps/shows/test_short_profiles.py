"""The N-given protocol (``shipml eval shows --given N``) and the models for short profiles: RP3beta, EASE fitted for
N given likes and the recommender that chooses by profile length, each on a small constructed dataset whose
answer is worked out by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import sparse

from shipml.apps.shows import tasks
from shipml.apps.shows.evaluation import MIN_USERS, compare, holdout
from shipml.apps.shows.recommenders import ByProfileLength, Ease, Popularity, Rp3Beta, ShortEase, make
from shipml.core.errors import InvalidInput


def tastes(users: int = 300) -> pl.DataFrame:
    """Two disjoint tastes over 40 shows; user ``u`` likes ``3 + u % 12`` shows of their group (a fixed pattern,
    no randomness), so users with 3..14 likes."""
    rows = []
    for user in range(users):
        group = 0 if user % 2 else 20
        count = 3 + user % 12
        rows += [(f"u{user}", group + (user + k) % 20) for k in range(count)]
    return pl.DataFrame(rows, schema=["user", "item"], orient="row")


# -- the N-given protocol --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 5])
def test_each_held_out_user_gives_exactly_n_and_the_rest_are_targets(n: int) -> None:
    frame = tastes()
    split = holdout(frame, seed=4, given=n)
    per_user = {u: set(items) for u, items in frame.group_by("user").agg("item").iter_rows()}
    assert len(split.users) >= MIN_USERS and split.split == f"test, {n} given"
    assert not set(split.train.users) & set(split.users)  # held-out users never reach the fit
    for user, given, target, count in zip(split.users, split.given, split.targets, split.target_counts,
                                          strict=True):
        liked = per_user[user]
        shown = {split.train.items[i] for i in given}
        wanted = {split.train.items[i] for i in target}
        assert len(liked) > n  # eligible: at least one target
        assert len(given) == n and shown <= liked  # exactly N, all the user's own likes
        assert not shown & wanted and shown | wanted == liked  # disjoint, and everything else is a target
        assert count == len(liked) - n


def test_the_n_given_split_is_fixed_by_its_seed() -> None:
    frame = tastes()
    a, b, other = holdout(frame, seed=7, given=5), holdout(frame, seed=7, given=5), holdout(frame, seed=8, given=5)
    assert a.users == b.users
    assert all(np.array_equal(x, y) for x, y in zip(a.given, b.given, strict=True))
    assert all(np.array_equal(x, y) for x, y in zip(a.targets, b.targets, strict=True))
    assert a.users != other.users or any(not np.array_equal(x, y) for x, y in zip(a.given, other.given,
                                                                                   strict=True))


def test_too_few_users_for_n_given_is_refused_with_the_counts() -> None:
    frame = tastes(users=60)  # 60 users: 20 % of those with 6+ likes is under 20
    with pytest.raises(InvalidInput, match=r"too few users for 5 given: \d+ users have at least 6 likes"):
        holdout(frame, given=5)
    with pytest.raises(InvalidInput, match="too few users for 15 given: 0 users have at least 16 likes"):
        holdout(tastes(), given=15)
    with pytest.raises(InvalidInput, match="given must be at least 1"):
        holdout(tastes(), given=0)
    assert len(holdout(frame, given=5, min_users=5).users) >= 5


def test_compare_with_n_given_reports_users_scored() -> None:
    rows = compare(tastes(), {"popularity": Popularity, "short": lambda: ShortEase(1.0, given=3)}, given=3)
    by = {r["model"]: r for r in rows}
    assert by["short"]["users_scored"] == by["popularity"]["users_scored"] >= MIN_USERS
    assert by["short"]["ndcg_at_10"] > by["popularity"]["ndcg_at_10"] + 0.3  # two tastes: personal wins
    assert by["short"]["split"] == "test, 3 given"


def shipml(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipml.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})


def test_eval_given_on_a_ratings_file_and_its_refusal(platform, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "likes.tsv"
    tastes().write_csv(path, separator="\t")
    run = shipml("eval", "shows", "--json", "--ratings", str(path), "--given", "5")
    assert run.returncode == 0, run.stdout + run.stderr
    table = {row["model"]: row for row in map(json.loads, run.stdout.splitlines())}
    assert {"popularity", "item_knn_graph", "by_profile_length"} <= set(table)
    assert {row["users_scored"] for row in table.values()} == {table["popularity"]["users_scored"]}
    assert all({"recall_at_20", "ndcg_at_10", "coverage_at_20"} <= set(row) for row in table.values())
    small = tmp_path / "few.tsv"
    tastes(users=60).write_csv(small, separator="\t")
    refused = shipml("eval", "shows", "--ratings", str(small), "--given", "5")
    assert refused.returncode != 0
    assert "too few users for 5 given" in refused.stdout + refused.stderr


def test_the_lifecycle_table_also_scores_five_given() -> None:
    table = tasks._evaluate({"ease": Ease().params}, tastes(), lambda f, m: None)
    assert {"popularity", "item_knn_graph", "ease"} == set(table)
    assert table["ease"]["users_scored_given_5"] >= MIN_USERS and 0 < table["ease"]["ndcg_at_10_given_5"] <= 1


# -- the models, on answers worked out by hand -----------------------------------------------------------------


def test_rp3beta_weights_by_hand() -> None:
    # u0 likes {0, 1}, u1 likes {0, 2}, u2 likes {1}
    likes = sparse.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=np.float32))
    walk = Rp3Beta(alpha=1.0, beta=0.0).fit(likes)
    # P(1 | 0) = Σ_u P(u | 0)·P(1 | u) = P(u0 | 0)·P(1 | u0) = 1/2 · 1/2; P(0 | 1) = P(u0 | 1)·P(0 | u0) = 1/2 · 1/2
    # P(2 | 0) = P(u1 | 0)·P(2 | u1) = 1/4; P(0 | 2) = P(u1 | 2)·P(0 | u1) = 1 · 1/2; P(2 | 1) = 0
    assert walk.scores([0]) == pytest.approx([0.0, 0.25, 0.25])
    assert walk.scores([2]) == pytest.approx([0.5, 0.0, 0.0])
    assert walk.scores([1]) == pytest.approx([0.25, 0.0, 0.0])
    shrunk = Rp3Beta(alpha=0.5, beta=1.0).fit(likes)  # sqrt of the walk, divided by the popularity of the target
    assert shrunk.scores([0]) == pytest.approx([0.0, 0.5 / 2, 0.5 / 1])
    assert shrunk.recommend([0], 2) == [(2, pytest.approx(0.5)), (1, pytest.approx(0.25))]
    kept = Rp3Beta(alpha=1.0, beta=0.0, neighbours=1).fit(likes)  # item 1 keeps its one neighbour, item 0
    assert kept.scores([1]) == pytest.approx([0.25, 0.0, 0.0])


def test_short_ease_weights_by_hand() -> None:
    # 10 users like both items 0 and 1. Given 1 of 2 likes: item 0 is given with q = 1/2 and never with item 1
    # (r = 0), so A = diag(10·q) = 5·I, C[0, 1] = Σ_u (q − r) = 5, and B[0, 1] = 5 / (5 + λ).
    likes = sparse.csr_matrix(np.ones((10, 2), dtype=np.float32))
    model = ShortEase(l2=1.0, given=1).fit(likes)
    assert model.scores([0]) == pytest.approx([0.0, 5 / 6])
    assert model.because([0], 1) == [0]


def test_short_ease_three_items_by_hand() -> None:
    # 6 users like {0, 1, 2}; given 2 of 3: q = 2/3, r = 2·1/(3·2) = 1/3.
    # A = 6·[[2/3, 1/3, 1/3], …] + λI, C = 6·(q − r) = 2 off the diagonal. With λ = 2: A = [[6, 2, 2], …].
    likes = sparse.csr_matrix(np.ones((6, 3), dtype=np.float32))
    model = ShortEase(l2=2.0, given=2).fit(likes)
    a = np.array([[6.0, 2, 2], [2, 6, 2], [2, 2, 6]])
    c = 2.0 * (np.ones((3, 3)) - np.eye(3))
    expected = np.linalg.solve(a, c)
    np.fill_diagonal(expected, 0.0)
    # A = 4I + 2J (J all ones), A⁻¹ = (I − J/5)/4, A⁻¹C = (3J/5 − I)/2: every pair weighs 3/10
    assert expected[0, 1] == pytest.approx(0.3)
    assert model.scores([0]) == pytest.approx(expected[0])
    assert model.scores([0, 1])[2] == pytest.approx(expected[0, 2] + expected[1, 2])


def test_short_ease_never_links_two_tastes() -> None:
    # block-diagonal likes give block-diagonal weights: someone who likes one taste is offered only that taste
    split = holdout(tastes(), given=5)
    model = ShortEase(1.0, given=5).fit(split.train.matrix)
    first = [j for j, item in enumerate(split.train.items) if item < 20]
    scores = model.scores(first[:3])
    others = [j for j, item in enumerate(split.train.items) if item >= 20]
    assert np.all(scores[others] == 0)  # exactly: the solve never mixes the two blocks
    assert {j for j, _ in model.recommend(first[:3], 10)} <= set(first[3:])


def test_by_profile_length_answers_short_and_long_profiles_with_different_models() -> None:
    likes = holdout(tastes(), given=5).train.matrix
    both = ByProfileLength(max_short=5, short_l2=1.0, short_given=5, long_l2=50.0).fit(likes)
    short, long = ShortEase(1.0, 5).fit(likes), Ease(50.0).fit(likes)
    five, six = [0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5]
    assert np.allclose(both.scores(five), short.scores(five)) and not np.allclose(both.scores(five), long.scores(five))
    assert np.allclose(both.scores(six), long.scores(six))
    assert both.recommend(five, 5) == short.recommend(five, 5)
    assert both.because_each(six, [7, 8]) == long.because_each(six, [7, 8])
    again = make(both.params)  # the params remake the configuration (the lifecycle's make)
    assert isinstance(again, ByProfileLength) and again.params == both.params
    with pytest.raises(InvalidInput):
        ByProfileLength(max_short=0)
    with pytest.raises(InvalidInput):
        ShortEase(l2=0)
    with pytest.raises(InvalidInput):
        Rp3Beta(alpha=0)


# -- acceptance on the real anime TV data (the app's own data) -------------------------------------------------


def test_acceptance_five_given_by_profile_length_leads_the_original(shared_data: Path) -> None:
    """Issue 22's case: 5 random likes given, all the others predicted. The served candidate leads the original
    graph by about 1.28× NDCG@10 on the test users (the goal of 1.4× is not reached: benchmarks/README.md), and keeps
    EASE's lead with the full protocol."""
    from shipml.apps.shows.evaluation import likes, read_ratings
    from shipml.apps.shows.recommenders import ItemKnnGraph

    folder = shared_data / "shows" / "anime_caserec"
    ratings = read_ratings(folder / "anime_ratings.dat", "User_ID", "Anime_ID", "Feedback")
    info = pl.read_csv(folder / "anime_info.dat", separator="\t", quote_char=None)
    liked = likes(ratings.filter(pl.col("item").is_in(info.filter(pl.col("type") == "TV")["anime_ids"].implode())),
                  min_rating=7)
    models = {"graph": ItemKnnGraph, "ease": Ease, "served": ByProfileLength}
    five = {r["model"]: r for r in compare(liked, models, seed=0, given=5)}
    assert five["served"]["users_scored"] > 700
    assert five["served"]["ndcg_at_10"] >= 1.2 * five["graph"]["ndcg_at_10"]
    assert five["served"]["ndcg_at_10"] >= 1.1 * five["ease"]["ndcg_at_10"]
    full = {r["model"]: r for r in compare(liked, models, seed=0)}
    assert full["served"]["ndcg_at_10"] >= 0.99 * full["ease"]["ndcg_at_10"] >= 1.5 * full["graph"]["ndcg_at_10"]


def test_eval_given_on_the_ratings_store(platform) -> None:  # type: ignore[no-untyped-def]
    from shipml.apps import get
    from shipml.core import platform as core

    app = get("shows")
    core.register_jobs(app)
    assert core.ingest(app, "synthetic")["status"] == "stored"
    rows = tasks.evaluate(given=5)
    names = {r["model"] for r in rows}
    assert set(tasks.candidates()) <= names and {"popularity", "item_knn_graph"} <= names
    assert len({r["users_scored"] for r in rows}) == 1 and rows[0]["users_scored"] >= MIN_USERS
    with pytest.raises(InvalidInput, match="too few users for 500 given"):
        tasks.evaluate(given=500)
