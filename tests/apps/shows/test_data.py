"""Shows sources on the real shared data, the synthetic catalog, and the ingest into the platform."""

from __future__ import annotations

import polars as pl
import pytest
from sqlalchemy import func, select

from shipml.apps.shows import catalog, data, ratings
from shipml.apps.shows.tables import ShowRating
from shipml.core import datasets, db
from shipml.core.errors import RejectedData, SourceUnavailable


def test_read_anime_keeps_rated_tv_shows_with_clean_names(shows_dir):
    shows, rated = data.read_anime(shows_dir / "anime_caserec")
    assert shows.height == 2487 and shows["external_id"].n_unique() == 2487
    assert rated.height == 288_869 and rated["user"].n_unique() == 4673
    assert list(shows.columns) == list(data.SHOW_SCHEMA) and rated.columns == ["user", "external_id", "rating"]
    titles = set(shows["title"])
    assert {"Gintama'", "Tiger & Bunny", "Steins;Gate", "Death Note"} <= titles
    assert not any("&#" in t or "&amp;" in t for t in titles)
    assert "Kimi no Na wa." not in titles  # a movie
    assert shows.filter(pl.col("title") == "Steins;Gate")["genres"].item() == "Sci-Fi,Thriller"
    assert rated["rating"].min() == 1 and rated["rating"].max() == 10
    assert set(rated["external_id"]) == set(shows["external_id"])


def test_read_netflix_and_tvmaze_metadata(shows_dir):
    netflix = data.read_netflix(shows_dir / "netflix_titles" / "netflix_titles.csv")
    assert netflix.height == 2676 and netflix.schema == data.SHOW_SCHEMA
    bad = netflix.filter(pl.col("title") == "Breaking Bad").to_dicts()[0]
    assert bad["year"] == 2013 and bad["genres"] == "Crime TV Shows,TV Dramas,TV Thrillers"
    tvmaze = data.read_tvmaze(shows_dir / "tvmaze_sample" / "shows.js")
    assert tvmaze.height == 20 and tvmaze.schema == data.SHOW_SCHEMA
    dome = tvmaze.filter(pl.col("title") == "Under the Dome").to_dicts()[0]
    assert dome["year"] == 2013 and dome["genres"] == "Drama,Science-Fiction,Thriller"
    assert dome["poster_url"].startswith("https://static.tvmaze.com/")
    assert dome["description"].startswith("Under the Dome is the story") and "<" not in dome["description"]


def test_synthetic_catalog_has_taste_groups():
    shows, rated = data.synthetic(seed=0)
    again, _ = data.synthetic(seed=0)
    assert shows.equals(again) and not shows.equals(data.synthetic(seed=1)[0])
    assert shows.height == 300 and shows["title"].n_unique() == 300 and shows.schema == data.SHOW_SCHEMA
    genre = dict(shows.select("external_id", "genres").iter_rows())
    liked = rated.filter(pl.col("rating") >= ratings.LIKED_AT).with_columns(
        pl.col("external_id").replace_strict(genre).alias("genre")
    )
    # a user's likes gather in their loved genres: the top genre of each user holds most of their likes
    top_share = liked.group_by("user", "genre").len().group_by("user").agg(pl.col("len").max() / pl.col("len").sum())
    assert top_share["len"].mean() > 0.8


def test_ingest_synthetic_is_labelled(platform):
    result = data.ingest("synthetic")
    assert result["status"] == "stored" and result["synthetic"] is True and result["source"] == "synthetic"
    assert result["shows"] == 300 and catalog.count() == 300
    snapshot = datasets.require_latest(ratings.DATASET)
    assert snapshot.synthetic and snapshot.rows == result["rows"] > 5000


def test_ingest_the_real_anime_data(platform, shows_dir):
    steps: list[tuple[float, str]] = []
    result = data.ingest(str(shows_dir), progress=lambda f, m: steps.append((f, m)))
    assert result["status"] == "stored" and result["synthetic"] is False and result["version"] == 1
    assert result["shows"] == 2487 and result["rows"] == 288_869 and result["ratings_imported"] == 288_869
    assert result["netflix_matches"] == 38  # by normalized title among Netflix's anime (41 among all its shows)
    assert catalog.count() == 2487
    death_note = catalog.resolve(["Death Note"]).found[0]
    assert death_note["year"] == 2006
    assert catalog.get_shows([death_note["id"]])[death_note["id"]]["description"]
    frame = datasets.require_latest(ratings.DATASET).read()
    assert frame["user"].n_unique() == 4673 and frame["item"].n_unique() == 2487
    assert 0.6 < frame["liked"].mean() < 0.65  # ratings of 8-10 count as likes
    assert datasets.refreshes(ratings.DATASET)[0]["status"] == "stored"
    assert steps[-1][0] == 1.0 and [f for f, _ in steps] == sorted(f for f, _ in steps)

    again = data.ingest(str(shows_dir))  # a second ingest duplicates nothing
    assert again["status"] == "unchanged" and again["version"] == 1 and again["ratings_imported"] == 0
    assert catalog.count() == 2487
    with db.session() as s:
        assert s.scalar(select(func.count(ShowRating.id))) == 288_869


def test_ingest_from_a_missing_folder_fails_and_stores_nothing(platform, tmp_path):
    with pytest.raises(SourceUnavailable):
        data.ingest(str(tmp_path / "nowhere"))
    assert datasets.latest(ratings.DATASET) is None and catalog.count() == 0
    assert datasets.refreshes(ratings.DATASET)[0]["status"] == "failed"


def test_ingest_rejects_ratings_out_of_range_and_keeps_the_last_good(platform, tmp_path):
    data.ingest("synthetic")
    anime = tmp_path / "shows" / "anime_caserec"
    anime.mkdir(parents=True)
    (anime / "anime_info.dat").write_text(
        "anime_ids\tname\tgenre\ttype\tepisodes\trating\tmembers\n1\tA Show\tDrama\tTV\t12\t8.1\t100\n"
    )
    (anime / "anime_ratings.dat").write_text("User_ID\tAnime_ID\tFeedback\n1\t1\t8\n2\t1\t11\n")
    with pytest.raises(RejectedData, match="1 anime ratings are not numbers from 1 to 10"):
        data.ingest(str(tmp_path / "shows"))
    assert datasets.refreshes(ratings.DATASET)[0]["status"] == "rejected"
    assert datasets.require_latest(ratings.DATASET).synthetic and catalog.count() == 300
