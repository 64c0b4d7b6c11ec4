"""Shows evaluation: reading ratings files of any separator, likes, the held-out-users protocol (held-out likes
never reach the fit), hand-computed metrics, and the acceptance comparison on the real anime TV data."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from shipml.apps.shows.evaluation import (
    LikesMatrix,
    compare,
    coverage,
    holdout,
    likes,
    ndcg_at,
    read_ratings,
    recall_at,
    sniff_separator,
)
from shipml.apps.shows.recommenders import Als, Ease, ItemKnnGraph, Popularity
from shipml.core.errors import InvalidInput

ROWS = [(1, 10, 4.0), (1, 11, 2.0), (2, 10, 5.0), (2, 12, 3.5), (3, 11, 1.0)]


# -- reading ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("separator", [",", "\t", "::", ";"])
def test_read_ratings_sniffs_the_separator(tmp_path: Path, separator: str) -> None:
    path = tmp_path / "ratings.txt"
    lines = [separator.join(["userId", "movieId", "rating", "timestamp"])]
    lines += [separator.join([str(u), str(i), str(r), "1260759144"]) for u, i, r in ROWS]
    path.write_text("\n".join(lines) + "\n")
    frame = read_ratings(path, "userId", "movieId", "rating")
    assert frame.columns == ["user", "item", "rating"]
    assert frame.rows() == ROWS
    assert frame.schema["user"] == pl.Int64


def test_sniffing_prefers_the_separator_that_splits_every_line_alike() -> None:
    assert sniff_separator(['user,item,"title; with, commas"', "1,2,x", "3,4,y"]) == ","
    assert sniff_separator(["user\titem\tname, first", "1\t2\ta, b", "3\t4\tc, d"]) == "\t"
    assert sniff_separator(["user::item::rating", "1::2::5"]) == "::"
    with pytest.raises(InvalidInput, match="separator"):
        sniff_separator(["justonecolumn", "1"])


def test_read_ratings_real_files_and_quoted_headers(shared_data: Path, tmp_path: Path) -> None:
    anime = read_ratings(shared_data / "shows/anime_caserec/anime_ratings.dat", "User_ID", "Anime_ID", "Feedback")
    assert anime.height == 419_943 and anime["rating"].min() == 1 and anime["rating"].max() == 10
    quoted = tmp_path / "q.csv"
    quoted.write_text('"user","show","stars"\n"a","The Wire",5\n"b","Lost",\n"b","Lost",3\n')
    frame = read_ratings(quoted, "user", "show", "stars")
    assert frame.rows() == [("a", "The Wire", 5.0), ("b", "Lost", 3.0)]  # no rating: dropped
    implicit = read_ratings(quoted, "user", "show")
    assert implicit["rating"].null_count() == implicit.height == 2  # duplicates kept once


def test_read_ratings_min_rating_keeps_only_high_ratings(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("u,i,r\n" + "".join(f"{u},{i},{r}\n" for u, i, r in ROWS))
    assert read_ratings(path, "u", "i", "r", min_rating=4)["item"].to_list() == [10, 10]


def test_bad_files_are_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        read_ratings(tmp_path / "missing.csv", "u", "i", "r")
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n1,2,5\n")
    with pytest.raises(InvalidInput, match="'stars'"):
        read_ratings(path, "user", "item", "stars")
    path.write_text("user,item,rating\n1,2,great\n")
    with pytest.raises(InvalidInput, match="must hold numbers"):
        read_ratings(path, "user", "item", "rating")
    path.write_text("")
    with pytest.raises(InvalidInput, match="empty"):
        read_ratings(path, "user", "item", "rating")
    path.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(InvalidInput):
        read_ratings(path, "user", "item", "rating")
    with pytest.raises(InvalidInput, match="rating column"):
        read_ratings(path, "user", "item", min_rating=3)


# -- likes -----------------------------------------------------------------------------------------------------


def test_likes_by_threshold_or_by_each_users_own_mean() -> None:
    frame = pl.DataFrame(ROWS, schema=["user", "item", "rating"], orient="row")
    assert likes(frame, min_rating=4).rows() == [(1, 10), (2, 10)]
    # user 1 means 3 (likes 10), user 2 means 4.25 (likes 10), user 3 means 1 (likes 11)
    assert sorted(likes(frame).rows()) == [(1, 10), (2, 10), (3, 11)]
    implicit = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias("rating"))
    assert likes(implicit, min_rating=4).height == 5


def test_likes_matrix_numbers_users_and_items() -> None:
    frame = pl.DataFrame({"user": ["b", "a", "a"], "item": [7, 7, 3]})
    m = LikesMatrix.from_likes(frame)
    assert m.users == ("a", "b") and m.items == (3, 7) and m.shape == (2, 2)
    assert m.matrix.toarray().tolist() == [[1.0, 1.0], [0.0, 1.0]]
    assert m.item_indices([7, 99, 3]).tolist() == [1, 0]
    fixed = LikesMatrix.from_likes(frame, items=[7, 5])
    assert fixed.matrix.toarray().tolist() == [[1.0, 0.0], [1.0, 0.0]]


# -- metrics ---------------------------------------------------------------------------------------------------


def test_metrics_by_hand() -> None:
    ranked, relevant = [3, 1, 7, 2], {1, 2, 9}
    assert recall_at(ranked, relevant, k=20) == pytest.approx(2 / 3)  # 2 hits / min(20, 3)
    assert recall_at(ranked, relevant, k=2) == pytest.approx(1 / 2)  # 1 hit / min(2, 3)
    assert recall_at(ranked, relevant, k=20, n_relevant=25) == pytest.approx(2 / 20)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)  # hits at ranks 2 and 4
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at(ranked, relevant, k=10) == pytest.approx(dcg / ideal)
    assert ndcg_at([1, 2, 9], relevant) == pytest.approx(1.0)
    assert ndcg_at([5, 6], relevant) == 0.0
    assert ndcg_at(ranked, relevant, k=2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert coverage([[1, 2], [2, 3]], 10) == pytest.approx(0.3)
    with pytest.raises(InvalidInput):
        recall_at(ranked, set())


# -- protocol --------------------------------------------------------------------------------------------------


def groups_frame(seed: int = 0) -> pl.DataFrame:
    """Two disjoint tastes over 40 shows; 200 users liking 5–14 shows each of their group."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(200):
        group = np.arange(20) if user % 2 else np.arange(20, 40)
        for item in rng.choice(group, size=int(rng.integers(5, 15)), replace=False):
            rows.append((f"u{user}", int(item)))
    return pl.DataFrame(rows, schema=["user", "item"], orient="row")


@pytest.mark.parametrize("validation", [False, True])
def test_held_out_likes_never_reach_the_fit(validation: bool) -> None:
    frame = groups_frame()
    split = holdout(frame, seed=3, validation=validation)
    test = holdout(frame, seed=3)
    assert len(split.users) == (32 if validation else 40)  # 20 % of the 200 eligible users (then of the 160 left)
    fitted = set(split.train.users)
    assert not fitted & set(split.users)
    if validation:
        assert not fitted & set(test.users) and not set(split.users) & set(test.users)
    per_user = frame.group_by("user").agg("item")
    all_likes = dict(zip(per_user["user"], per_user["item"].to_list(), strict=True))
    for user, given, target, count in zip(split.users, split.given, split.targets, split.target_counts,
                                          strict=True):
        items = all_likes[user]
        shown = {split.train.items[i] for i in given}
        wanted = {split.train.items[i] for i in target}
        assert not shown & wanted
        assert len(shown) + count == len(items)
        assert count == len(items) - min(len(items) - 1, max(1, round(0.8 * len(items))))
    again = holdout(frame, seed=3, validation=validation)
    assert again.users == split.users and all(np.array_equal(a, b) for a, b in zip(again.given, split.given,
                                                                                     strict=True))


def test_five_given_shows_keep_the_same_targets() -> None:
    frame = groups_frame()
    full, five = holdout(frame, seed=1), holdout(frame, seed=1, max_given=5)
    assert full.users == five.users
    assert all(np.array_equal(a, b) for a, b in zip(full.targets, five.targets, strict=True))
    assert all(g.size <= 5 and set(g) <= set(f) for g, f in zip(five.given, full.given, strict=True))


def test_compare_on_two_tastes_ranks_personal_models_above_popularity() -> None:
    results = compare(groups_frame(), {"popularity": Popularity, "ease": lambda: Ease(10.0),
                                       "graph": ItemKnnGraph}, seed=0)
    by = {r["model"]: r for r in results}
    assert [r["model"] for r in results] == ["popularity", "ease", "graph"]
    assert by["ease"]["recall_at_20"] > by["popularity"]["recall_at_20"] + 0.2
    assert by["ease"]["coverage_at_20"] > by["popularity"]["coverage_at_20"]
    for row in results:
        assert 0 <= row["ndcg_at_10"] <= 1 and row["held_out_users"] == 40 and row["split"] == "test"
        assert row["recommend_p99_ms"] >= row["recommend_p50_ms"] > 0


def test_compare_turns_ratings_into_likes() -> None:
    frame = groups_frame().with_columns(pl.lit(5.0).alias("rating"))
    low = frame.with_columns(pl.lit(1.0).alias("rating"), pl.col("item") + 100)
    with pytest.raises(InvalidInput, match="nothing to hold out"):
        compare(low, {"popularity": Popularity}, min_rating=4)
    rows = compare(pl.concat([frame, low]), {"popularity": Popularity}, min_rating=4)
    assert rows[0]["catalog_items"] == 40


# -- acceptance on the real anime TV data ----------------------------------------------------------------------


ACCEPTANCE_MODELS = {"popularity": Popularity, "item_knn_graph": ItemKnnGraph, "ease": Ease, "als": Als}


@pytest.fixture(scope="module")
def anime_tv_ratings(shared_data: Path) -> pl.DataFrame:
    folder = shared_data / "shows" / "anime_caserec"
    ratings = read_ratings(folder / "anime_ratings.dat", "User_ID", "Anime_ID", "Feedback")
    info = pl.read_csv(folder / "anime_info.dat", separator="\t", quote_char=None)
    tv = info.filter(pl.col("type") == "TV")["anime_ids"]
    tv_ratings = ratings.filter(pl.col("item").is_in(tv.implode()))
    assert tv_ratings.height == 288_869 and tv_ratings["item"].n_unique() == 2_487
    return tv_ratings


@pytest.fixture(scope="module")
def anime_comparison(anime_tv_ratings: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """The protocol of the module (80 % of each held-out user's likes given), likes = rating >= 7."""
    return {r["model"]: r for r in compare(anime_tv_ratings, ACCEPTANCE_MODELS, seed=0, min_rating=7)}


def test_acceptance_best_model_beats_the_original_and_popularity(anime_comparison: dict[str, Any]) -> None:
    knn, pop = anime_comparison["item_knn_graph"], anime_comparison["popularity"]
    best = max((anime_comparison[m] for m in ("ease", "als")), key=lambda r: r["ndcg_at_10"])
    assert best["model"] == "ease"  # the promoted default
    assert best["recall_at_20"] >= 1.3 * knn["recall_at_20"]
    assert best["ndcg_at_10"] >= 1.5 * knn["ndcg_at_10"]
    assert best["ndcg_at_10"] >= 2.0 * pop["ndcg_at_10"]
    assert {r["held_out_users"] for r in anime_comparison.values()} == {best["held_out_users"]}  # same users


def test_acceptance_five_liked_shows_better_than_the_original(anime_tv_ratings: pl.DataFrame) -> None:
    """The app's case: 5 liked shows typed in (same held-out users and targets), on the full TV catalog. With so
    little input every model finds less (EASE 0.27 Recall@20 against 0.48 with 80 % of the likes); EASE still
    leads the original by about 1.2× on both measures. Its latency is a figure of benchmarks/shows_models, not a
    test: a timing assertion fails on a busy machine."""
    rows = {r["model"]: r for r in compare(anime_tv_ratings, ACCEPTANCE_MODELS, seed=0, min_rating=7,
                                           max_given=5)}
    for row in rows.values():
        assert row["catalog_items"] > 2_000
    assert rows["ease"]["recall_at_20"] >= 1.1 * rows["item_knn_graph"]["recall_at_20"]
    assert rows["ease"]["ndcg_at_10"] >= 1.1 * rows["item_knn_graph"]["ndcg_at_10"]
    assert rows["ease"]["ndcg_at_10"] >= 1.3 * rows["popularity"]["ndcg_at_10"]
