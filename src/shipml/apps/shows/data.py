"""Shows sources: MyAnimeList ratings (anime_caserec), Netflix and TVmaze metadata, a synthetic catalog;
and the ingest that loads a source into the catalog and the ratings store, then exports the training set.

Show frames have the columns external_id, title, year, genres (comma-joined), description, poster_url.
Rating frames have user (str), external_id (of a show of the same source) and rating (1-10).
"""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

from shipml.apps.shows import catalog, ratings
from shipml.apps.shows.enrich import show_from_tvmaze
from shipml.core import datasets
from shipml.core.errors import RejectedData, SourceUnavailable
from shipml.core.progress import Progress, no_progress

log = logging.getLogger(__name__)

SYNTHETIC = "synthetic"
SHOW_SCHEMA = {
    "external_id": pl.Utf8,
    "title": pl.Utf8,
    "year": pl.Int64,
    "genres": pl.Utf8,
    "description": pl.Utf8,
    "poster_url": pl.Utf8,
}



def _genres(column: str) -> pl.Expr:
    """"Drama, Romance" -> "Drama,Romance"; empty -> null."""
    joined = pl.col(column).str.split(",").list.eval(pl.element().str.strip_chars()).list.join(",")
    return pl.when(joined.str.len_chars() > 0).then(joined).otherwise(None).alias("genres")


def _read_tsv(path: Path, columns: set[str]) -> pl.DataFrame:
    if not path.is_file():
        raise SourceUnavailable(f"no file at {path}")
    frame = pl.read_csv(path, separator="\t", quote_char=None, infer_schema_length=0)
    if columns - set(frame.columns):
        raise RejectedData(f"{path.name} lacks columns {sorted(columns - set(frame.columns))}")
    return frame


def read_anime(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The TV shows of the anime_caserec folder that someone rated, and their ratings.

    Names are HTML-unescaped; users become ``anime-<User_ID>``. Ratings outside 1-10 are rejected.
    """
    info = _read_tsv(folder / "anime_info.dat", {"anime_ids", "name", "genre", "type"})
    rated = _read_tsv(folder / "anime_ratings.dat", {"User_ID", "Anime_ID", "Feedback"})
    tv = info.filter(pl.col("type").str.strip_chars() == "TV").select(
        pl.col("anime_ids").str.strip_chars().alias("external_id"),
        pl.col("name").map_elements(lambda n: html.unescape(n).strip(), return_dtype=pl.Utf8).alias("title"),
        pl.lit(None, pl.Int64).alias("year"),
        _genres("genre"),
        pl.lit(None, pl.Utf8).alias("description"),
        pl.lit(None, pl.Utf8).alias("poster_url"),
    )
    frame = rated.select(
        ("anime-" + pl.col("User_ID").str.strip_chars()).alias("user"),
        pl.col("Anime_ID").str.strip_chars().alias("external_id"),
        pl.col("Feedback").str.strip_chars().cast(pl.Float64, strict=False).alias("rating"),
    ).join(tv.select("external_id"), on="external_id", how="semi")
    bad = frame.filter(pl.col("rating").is_null() | ~pl.col("rating").is_between(1, 10))
    if bad.height:
        raise RejectedData(f"{bad.height} anime ratings are not numbers from 1 to 10", details=bad.head(5).to_dicts())
    shows = tv.join(frame.select("external_id").unique(), on="external_id", how="semi")
    return shows.sort(pl.col("external_id").cast(pl.Int64)), frame


def read_netflix(path: Path) -> pl.DataFrame:
    """The TV shows of the Netflix titles CSV: title, release year, genres (listed_in), description."""
    if not path.is_file():
        raise SourceUnavailable(f"no file at {path}")
    frame = pl.read_csv(path, infer_schema_length=0)
    needed = {"show_id", "type", "title", "release_year", "listed_in", "description"}
    if needed - set(frame.columns):
        raise RejectedData(f"{path.name} lacks columns {sorted(needed - set(frame.columns))}")
    return frame.filter(pl.col("type") == "TV Show").select(
        pl.col("show_id").alias("external_id"),
        pl.col("title").str.strip_chars(),
        pl.col("release_year").str.strip_chars().cast(pl.Int64, strict=False).alias("year"),
        _genres("listed_in"),
        pl.col("description").str.strip_chars(),
        pl.lit(None, pl.Utf8).alias("poster_url"),
    ).filter(pl.col("title").str.len_chars() > 0)


def read_tvmaze(path: Path) -> pl.DataFrame:
    """TVmaze ``/shows`` records from a JSON file or a JS module wrapping them (``const shows = [...]``)."""
    if not path.is_file():
        raise SourceUnavailable(f"no file at {path}")
    text = path.read_text(encoding="utf-8")
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end < start:
        raise RejectedData(f"{path.name} holds no array of TVmaze records")
    body = re.sub(r",(\s*[\]}])", r"\1", text[start : end + 1])  # JS allows trailing commas, JSON does not
    try:
        records = json.loads(body)
    except json.JSONDecodeError as exc:
        raise RejectedData(f"{path.name} is not a list of TVmaze records: {exc}") from exc
    rows = [show_from_tvmaze(r) for r in records if isinstance(r, dict) and r.get("name")]
    return pl.DataFrame(rows, schema=SHOW_SCHEMA)


# Six genres; titles are made of two words from each genre's lists (8 x 8 pairs, 50 drawn per genre).
SYNTHETIC_GENRES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Crime": (("Cold", "Silent", "Broken", "Blind", "Hollow", "Iron", "Shadow", "Crooked"),
              ("Harbor", "Precinct", "Ledger", "Witness", "Alibi", "Verdict", "Files", "Street")),
    "Sci-Fi": (("Orbit", "Nova", "Quantum", "Stellar", "Void", "Signal", "Helix", "Zero"),
               ("Station", "Protocol", "Frontier", "Colony", "Drift", "Horizon", "Array", "Echo")),
    "Comedy": (("Totally", "Mostly", "Barely", "Happy", "Awkward", "Lucky", "Little", "Big"),
               ("Roommates", "Office", "Family", "Neighbours", "Diner", "Campus", "Startup", "Wedding")),
    "Fantasy": (("Dragon", "Crown", "Rune", "Thorn", "Ember", "Raven", "Frost", "Moon"),
                ("Throne", "Keep", "Chronicles", "Realm", "Oath", "Legacy", "Blade", "Saga")),
    "Documentary": (("Wild", "Deep", "Hidden", "Frozen", "Ancient", "Living", "Secret", "Blue"),
                    ("Planet", "Oceans", "Kingdoms", "Cities", "Forests", "Deserts", "Rivers", "Skies")),
    "Romance": (("Summer", "Paris", "Second", "Sweet", "Starlight", "Autumn", "Midnight", "Endless"),
                ("Hearts", "Promises", "Letters", "Vows", "Kisses", "Chances", "Dreams", "Love")),
}


def synthetic(seed: int = 0, users: int = 900) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A made-up catalog (300 titles, 50 in each of six genres) and users in taste groups.

    Each user loves one genre (a third also a second one): ~80% of what they rate is from their
    genres, rated high (about 8 of 10, better for better shows), the rest low. Within a genre some
    shows are much more popular than others. So a like of a Crime show should bring Crime shows back.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for genre, (firsts, seconds) in SYNTHETIC_GENRES.items():
        pairs = [(a, b) for a in firsts for b in seconds]
        for k in rng.choice(len(pairs), size=50, replace=False):
            a, b = pairs[int(k)]
            title = f"The {a} {b}" if rng.random() < 0.15 else f"{a} {b}"
            what = f"A {genre.lower()} series" if genre != "Documentary" else "A documentary series"
            rows.append({"title": title, "genres": genre,
                         "year": int(rng.integers(1998, 2024)), "description": f"{what} (synthetic)."})
    shows = pl.DataFrame(rows).with_columns(
        pl.format("syn-{}", pl.int_range(1, len(rows) + 1).cast(pl.Utf8).str.zfill(4)).alias("external_id"),
        pl.lit(None, pl.Utf8).alias("poster_url"),
    ).select(list(SHOW_SCHEMA))
    genre_of = shows["genres"].to_numpy()
    names = list(SYNTHETIC_GENRES)
    quality = rng.normal(0.0, 0.8, shows.height)
    popularity = np.empty(shows.height)
    for g in names:
        members = np.flatnonzero(genre_of == g)
        popularity[members] = 1.0 / (rng.permutation(members.size) + 1.0) ** 0.8
    rated: dict[str, list[object]] = {"user": [], "external_id": [], "rating": []}
    ids = shows["external_id"].to_list()
    for u in range(users):
        loved = set(rng.choice(names, size=2 if rng.random() < 0.33 else 1, replace=False).tolist())
        in_taste = np.isin(genre_of, list(loved))
        weight = popularity * np.where(in_taste, 4.0 / in_taste.sum(), 1.0 / (~in_taste).sum())
        picks = rng.choice(shows.height, size=int(rng.integers(12, 40)), replace=False, p=weight / weight.sum())
        base = np.where(in_taste[picks], rng.normal(8.0, 1.0, picks.size), rng.normal(4.0, 1.5, picks.size))
        for i, r in zip(picks, np.clip(np.rint(base + quality[picks]), 1, 10), strict=True):
            rated["user"].append(f"syn-user-{u:04d}")
            rated["external_id"].append(ids[i])
            rated["rating"].append(float(r))
    return shows, pl.DataFrame(rated, schema={"user": pl.Utf8, "external_id": pl.Utf8, "rating": pl.Float64})


def with_netflix_metadata(shows: pl.DataFrame, netflix: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Fill year and description of shows whose normalized title is a Netflix TV show's; returns the
    frame and how many shows matched (a title Netflix lists twice uses its first row)."""
    by_title = (
        netflix.with_columns(pl.col("title").map_elements(catalog.normalize, return_dtype=pl.Utf8).alias("norm"))
        .unique("norm", keep="first", maintain_order=True)
        .select("norm", pl.col("year").alias("nf_year"), pl.col("description").alias("nf_description"))
    )
    joined = shows.with_columns(
        pl.col("title").map_elements(catalog.normalize, return_dtype=pl.Utf8).alias("norm")
    ).join(by_title, on="norm", how="left")
    matched = joined.filter(pl.col("nf_year").is_not_null() | pl.col("nf_description").is_not_null()).height
    filled = joined.with_columns(
        pl.coalesce("year", "nf_year").alias("year"), pl.coalesce("description", "nf_description").alias("description")
    ).select(list(SHOW_SCHEMA))
    return filled, matched


def _load(source: str, progress: Progress) -> tuple[str, pl.DataFrame, pl.DataFrame, int]:
    """(show source label, shows, ratings, Netflix matches) for "synthetic" or a shared-data folder."""
    if source == SYNTHETIC:
        shows, rated = synthetic()
        return SYNTHETIC, shows, rated, 0
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise SourceUnavailable(f"no folder at {folder} (expected 'synthetic' or a folder with anime_caserec/)")
    progress(0.05, "reading anime_caserec")
    shows, rated = read_anime(folder / "anime_caserec")
    netflix_csv = folder / "netflix_titles" / "netflix_titles.csv"
    matched = 0
    if netflix_csv.is_file():
        progress(0.15, "matching titles with netflix_titles")
        # Only Netflix's anime: by title alone "Kingdom" and "High Score" would take a Korean drama's and a
        # documentary's year and description (41 title matches, 38 of them anime).
        anime_on_netflix = read_netflix(netflix_csv).filter(pl.col("genres").str.contains("Anime"))
        shows, matched = with_netflix_metadata(shows, anime_on_netflix)
    return "anime_caserec", shows, rated, matched


def ingest(source: str, progress: Progress = no_progress) -> dict[str, object]:
    """Load shows and ratings from ``source`` ("synthetic" or a folder laid out like shared/data/shows),
    then export the ratings as the training set. Running it again adds nothing twice. A real source replaces the
    synthetic demo (its shows and every rating of them are removed), so the export and the next model are real.
    A source that cannot be read or loaded is recorded as a failed (or rejected) refresh and the last exported
    dataset stays as it was (and the demo too)."""
    label = source if source == SYNTHETIC else str(Path(source).expanduser().resolve())

    def read() -> datasets.Incoming:
        show_source, shows, rated, matched = _load(source, progress)
        replaced = 0
        if show_source != SYNTHETIC:  # real data replaces the generated demo: its shows and their ratings go
            replaced = catalog.remove_source(SYNTHETIC)
            if replaced:
                progress(0.25, f"removed the {replaced} synthetic demo shows and their ratings")
        progress(0.3, f"importing {shows.height} shows")
        catalog.import_shows(shows, show_source)
        ids = pl.DataFrame(list(catalog.show_ids(show_source).items()), orient="row",
                           schema={"external_id": pl.Utf8, "item": pl.Int64})
        frame = rated.join(ids, on="external_id", how="inner").select("user", "item", "rating")
        progress(0.5, f"importing {frame.height} ratings")
        added = ratings.import_ratings(frame)
        progress(0.85, "exporting the ratings dataset")
        return replace(ratings.exported(label), details={
            "shows": shows.height, "ratings_imported": added, "netflix_matches": matched,
            "synthetic_removed": replaced})

    refreshed = datasets.refresh(ratings.DATASET, label, read)
    snap, counts = refreshed.snapshot, refreshed.details
    progress(1.0, f"{refreshed.status}: version {snap.version}, {snap.rows} ratings, {counts['shows']} shows")
    log.info("shows ingest from %s: %s", label, counts)
    return {"status": refreshed.status, "version": snap.version, "rows": snap.rows, "source": label,
            "synthetic": snap.synthetic, **counts}
