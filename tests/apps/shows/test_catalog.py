"""The show catalog: its tables on both databases, normalized titles, search, resolving typed titles."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from shipml.apps.shows import catalog, data
from shipml.apps.shows.tables import Show
from shipml.core import db
from shipml.core.errors import InvalidInput
from shipml.core.tables import Base, utcnow


def test_migration_creates_the_shows_tables_as_the_models_describe(platform):
    db.migrate()  # idempotent on an up-to-date database
    engine = db.get_engine()
    inspector = inspect(engine)
    assert {"shows", "show_ratings"} <= set(inspector.get_table_names())
    assert {u["name"] for u in inspector.get_unique_constraints("shows")} == {"uq_shows_source_external_id"}
    assert [fk["referred_table"] for fk in inspector.get_foreign_keys("show_ratings")] == ["shows"]
    with engine.connect() as conn:
        heads = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        assert "shows_0001" in heads
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    ours = [d for d in diffs if "show" in repr(d)]
    assert ours == [], f"tables.py and the migration disagree: {ours}"


@pytest.mark.parametrize(
    ("title", "normal"),
    [
        ("The Office (U.S.)", "office us"),
        ("Pokémon: Indigo League", "pokemon indigo league"),
        ("Grey's Anatomy", "greys anatomy"),
        ("Tiger & Bunny", "tiger and bunny"),
        ("  BREAKING   bad!! ", "breaking bad"),
        ("Theodosia", "theodosia"),
        ("Yu☆Gi☆Oh!", "yu gi oh"),
    ],
)
def test_normalize(title, normal):
    assert catalog.normalize(title) == normal


def test_a_typo_finds_breaking_bad(netflix_catalog):
    hits = catalog.search("brking bad")
    assert hits[0]["title"] == "Breaking Bad"
    assert hits[0]["year"] == 2013 and "TV Dramas" in hits[0]["genres"].split(",")
    assert set(hits[0]) == {"id", "title", "year", "genres", "poster_url", "verified", "score"}
    assert catalog.search("stranger thngs")[0]["title"] == "Stranger Things"


def test_an_exact_title_is_the_top_hit(netflix_catalog, shows_dir):
    titles = data.read_netflix(shows_dir / "netflix_titles" / "netflix_titles.csv")["title"].to_list()
    for title in titles[::8]:  # every 8th of 2,676: all of them pass too, in ~25 s
        top = catalog.search(title, limit=1)[0]
        assert top["title"].casefold() == title.casefold(), title
        assert top["score"] >= 0.999


def test_prefixes_autocomplete(netflix_catalog):
    assert "Breaking Bad" in [h["title"] for h in catalog.search("breaki", limit=3)]
    assert catalog.search("strang")[0]["title"].startswith("Strange")
    assert "Stranger Things" in [h["title"] for h in catalog.search("strang", limit=5)]
    assert catalog.search("office")[0]["title"] == "The Office (U.S.)"  # a leading "The" is optional
    scores = [h["score"] for h in catalog.search("the cro", limit=10)]
    assert scores == sorted(scores, reverse=True)


def test_resolve_sorts_typed_titles_into_found_and_unknown(netflix_catalog):
    got = catalog.resolve(["brking bad", "Friends", "  ", "Xyzzy Quux Galaxy", "Breaking", "Breaking Bad"])
    assert [(f["query"], f["title"]) for f in got.found] == [("brking bad", "Breaking Bad"), ("Friends", "Friends")]
    # a prefix alone does not resolve: "Breaking" is unknown, with Breaking Bad offered as a suggestion
    assert got.unknown == ["Xyzzy Quux Galaxy", "Breaking"]
    assert got.suggestions["Breaking"][0]["title"] == "Breaking Bad"
    assert len(got.suggestions["Xyzzy Quux Galaxy"]) <= 3


def test_titles_resolved_before_are_answered_from_what_is_kept_and_new_ones_are_not(netflix_catalog, monkeypatch):
    """The API resolves typed titles on its event loop when every one was resolved before for the current catalog
    stamp (no lookup, no thread hop); otherwise ``resolve_kept`` says None and the request resolves them in a
    thread. A stamp that is not known fresh, or a new stamp, is never answered from what was kept."""
    from shipml.core import readcache
    from shipml.settings import get_settings

    monkeypatch.setenv("SHIPML_VERSION_CHECK_SECONDS", "3600")
    get_settings.cache_clear()
    readcache._versions.clear()
    typed = ["brking bad", "Friends", "Xyzzy Quux Galaxy"]
    assert catalog.resolve_kept(typed) is None  # the stamp was never looked up
    catalog.resolve(typed[:2])
    assert catalog.resolve_kept(typed) is None  # one title was never resolved
    assert catalog.resolve_kept(typed[:2]) == catalog.resolve(typed[:2])
    first = catalog.resolve(typed)
    assert catalog.resolve_kept(typed) == first
    assert [f["title"] for f in first.found] == ["Breaking Bad", "Friends"] and first.unknown == ["Xyzzy Quux Galaxy"]

    catalog.add_unverified("Xyzzy Quux Galaxy")  # the catalog changes: a new stamp, looked up anew
    monkeypatch.setenv("SHIPML_VERSION_CHECK_SECONDS", "0")
    get_settings.cache_clear()
    assert catalog.resolve_kept(typed) is None  # not fresh
    now = catalog.resolve(typed)  # looks the stamp up: a new one
    assert [f["title"] for f in now.found] == ["Breaking Bad", "Friends", "Xyzzy Quux Galaxy"]
    monkeypatch.setenv("SHIPML_VERSION_CHECK_SECONDS", "3600")
    get_settings.cache_clear()
    assert catalog.resolve_kept(typed) == now


def test_the_resolve_threshold_accepts_typos_and_rejects_other_titles(netflix_catalog, shows_dir):
    """One random typo in a Netflix title resolves to that title; anime titles Netflix lacks stay unknown.
    Measured on all titles: 98.5% of typos resolve right, 1.8% of absent titles resolve (mostly sequels
    such as "Sword Art Online II" -> "Sword Art Online")."""
    rng = random.Random(7)
    netflix = data.read_netflix(shows_dir / "netflix_titles" / "netflix_titles.csv")["title"].to_list()
    right = 0
    sample = rng.sample([t for t in netflix if len(catalog.normalize(t)) >= 6], 150)
    for title in sample:
        i = rng.randrange(len(title))
        typo = title[:i] + title[i + 1 :] if rng.random() < 0.5 else title[:i] + rng.choice("aeiost") + title[i + 1 :]
        found = catalog.resolve([typo]).found
        right += bool(found) and catalog.normalize(found[0]["title"]) == catalog.normalize(title)
    assert right / len(sample) >= 0.95
    known = {catalog.normalize(t) for t in netflix}
    anime, _ = data.read_anime(shows_dir / "anime_caserec")
    absent = rng.sample([t for t in anime["title"].to_list() if catalog.normalize(t) not in known], 200)
    resolved = sum(bool(catalog.resolve([t]).found) for t in absent)
    assert resolved / len(absent) <= 0.04


def test_an_unknown_title_is_added_unverified_and_then_found(netflix_catalog):
    before = catalog.count()
    assert catalog.resolve(["Quux Xyzzy Chronicles"]).unknown == ["Quux Xyzzy Chronicles"]
    added = catalog.add_unverified("  Quux   Xyzzy Chronicles ")
    assert added["title"] == "Quux Xyzzy Chronicles"
    assert added["verified"] is False and added["source"] == "user"
    assert catalog.count() == before + 1
    assert catalog.search("quux xyzzy")[0]["id"] == added["id"]
    assert catalog.resolve(["Quux Xyzzy Chronicles"]).found[0]["id"] == added["id"]
    assert catalog.add_unverified("quux xyzzy chronicles!")["id"] == added["id"]  # no duplicate
    assert catalog.count() == before + 1
    with pytest.raises(InvalidInput):
        catalog.add_unverified("?!")


def test_search_sees_shows_another_process_added(netflix_catalog):
    catalog.search("warm up the index")
    with db.session() as s:  # as a second API process would
        s.add(Show(title="Zorblax Station", norm_title="zorblax station", verified=True, source="user",
                   created_at=utcnow()))
    assert catalog.search("zorblax")[0]["title"] == "Zorblax Station"


def test_import_upserts_by_source_and_external_id(platform):
    first = pl.DataFrame({"external_id": ["a", "b"], "title": ["Alpha Show", "Beta Show"], "year": [2001, None],
                          "description": ["first words", None]})
    assert catalog.import_shows(first, "netflix") == 2
    again = pl.DataFrame({"external_id": ["a", "b", "b"], "title": ["Alpha Show", "Beta Show!", "ignored"],
                          "year": [None, 1999, 1998], "description": [None, "later words", None]})
    assert catalog.import_shows(again, "netflix") == 2
    assert catalog.import_shows(first.head(1), "tvmaze") == 1  # same external id, other source: another show
    assert catalog.count() == 3
    shows = {s["title"]: s for s in catalog.get_shows(range(1, 10)).values()}
    assert shows["Alpha Show"]["year"] == 2001 and shows["Alpha Show"]["description"] == "first words"  # kept
    assert shows["Beta Show!"]["year"] == 1999 and shows["Beta Show!"]["description"] == "later words"
    assert all(s["verified"] for s in shows.values())
    with pytest.raises(InvalidInput):
        catalog.import_shows(first, "imdb")


def test_get_shows_answers_known_ids_only(netflix_catalog):
    hit = catalog.search("Breaking Bad", limit=1)[0]
    got = catalog.get_shows([hit["id"], 10_000_000])
    assert list(got) == [hit["id"]]
    assert got[hit["id"]]["description"].startswith("A high school chemistry teacher")


def test_search_on_an_empty_catalog_or_blank_query(platform, tmp_path: Path):
    assert catalog.search("anything") == []
    assert catalog.resolve(["Anything"]).unknown == ["Anything"]
    assert catalog.search("   ") == [] and catalog.search("x", limit=0) == []
