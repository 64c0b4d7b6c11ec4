"""The shows' side of the platform's one matching policy: suggestions pass the shared cutoff (nothing unrelated is
offered), a real title beats an unverified one typed earlier, and the page's own label "Title (2006)" round-trips.
Plus what the picker shows for them (cards) and how a reply names shows the model does not know yet."""

from __future__ import annotations

import polars as pl
import pytest

from shipml.apps.shows import cards, catalog, data, tasks
from shipml.core import matching


def real(*shows: tuple[str, str, int | None], source: str = "anime_caserec") -> dict[str, int]:
    frame = pl.DataFrame([{"external_id": e, "title": t, "year": y} for e, t, y in shows],
                         schema={"external_id": pl.Utf8, "title": pl.Utf8, "year": pl.Int64})
    catalog.import_shows(frame, source)
    return catalog.show_ids(source)


@pytest.mark.parametrize("query", ["Death Note", "brking bad", "strang", "office", "the cro", "xqzjvw",
                                   "Dragon Throne", "grey anatomy", "stranger thngs 2"])
def test_every_suggestion_contains_the_query_or_a_near_spelling_of_it(netflix_catalog, query):
    hits = catalog.search(query, limit=10)
    for hit in hits:
        assert matching.search(catalog.normalize(query), [catalog.normalize(hit["title"])]), (query, hit["title"])
    if query == "xqzjvw":
        assert hits == []


def test_a_real_title_typed_in_the_synthetic_demo_gets_no_suggestion(platform):
    catalog.import_shows(data.synthetic()[0], "synthetic")
    assert catalog.search("Death Note") == []  # was: "Dragon Throne" first
    assert catalog.search("Dragon Thrne")[0]["title"] == "Dragon Throne"
    hints = catalog.resolve(["Death Note"]).suggestions["Death Note"]  # "did you mean" is looser, still not unrelated
    assert all(matching.search("death note", [catalog.normalize(h["title"])], cutoff=matching.SUGGEST) for h in hints)


def test_a_real_title_beats_unverified_stubs_created_earlier(platform):
    stub = catalog.add_unverified("Death Note")  # typed while only the synthetic demo was there
    typo = catalog.add_unverified("Deth Note")
    lonely = catalog.add_unverified("Quux Xyzzy Chronicles")
    ids = real(("1535", "Death Note", 2006), ("2", "Death Parade", 2015))
    death_note = ids["1535"]

    for typed in ("Death Note", "death note", "Deth Note", "Death Note (2006)"):
        found = catalog.resolve([typed]).found
        assert [(f["id"], f["verified"]) for f in found] == [(death_note, True)], typed
    hits = catalog.search("Death Note", limit=5)
    assert hits[0]["id"] == death_note
    order = [h["id"] for h in hits]
    assert order.index(stub["id"]) > order.index(death_note) and order.index(typo["id"]) > order.index(death_note)
    assert catalog.search("Deth Note", limit=1)[0]["id"] == death_note
    assert catalog.resolve(["Quux Xyzzy Chronicles"]).found[0]["id"] == lonely["id"]  # no real title is close


def test_the_pages_labels_round_trip(platform):
    anime = real(("1535", "Death Note", 2006), ("11", "Naruto", 2002), ("9", "Youkai Ningen Bem (2006)", None),
                 ("7", "Cowboy Bebop", None))
    drama = real(("s1", "Death Note", 2015), source="netflix")
    shows = catalog.get_shows([*anime.values(), *drama.values()])
    for show in shows.values():
        label = cards.show_label(show)  # "Death Note (2006)", "Cowboy Bebop", "Youkai Ningen Bem (2006)"
        assert [f["id"] for f in catalog.resolve([label]).found] == [show["id"]], label
        assert catalog.search(label, limit=1)[0]["id"] == show["id"], label
        assert cards.match(label, catalog.search(label, 5)).show["id"] == show["id"], label
    assert catalog.resolve(["Death Note (2015)"]).found[0]["id"] == drama["s1"]
    assert catalog.resolve(["Death Note (1999)"]).found[0]["title"] == "Death Note"  # the title still counts


def test_the_picker_never_shows_an_unverified_title_as_in_the_catalog():
    stub = {"id": 1, "title": "Death Note", "year": None, "genres": None, "verified": False}
    found = cards.match("Death Note", [stub])
    assert found.kind == "unverified"
    line = cards.match_html(found)
    assert "unverified" in line and "✓" not in line and "in the catalog" not in line
    assert cards.suggestion_label(stub) == "Death Note · unverified"

    show = {"id": 2, "title": "Death Note", "year": 2006, "genres": "Mystery,Police", "verified": True}
    found = cards.match("Death Note", [stub, show])
    assert found.kind == "exact" and found.show == show and "✓ 2006" in cards.match_html(found)
    assert cards.match("Death Note (2006)", [show]).kind == "exact"
    assert cards.match("Death Note (2006)", [{**show, "id": 3, "year": 2015}, show]).show == show


def test_the_reply_names_the_shows_new_to_the_model():
    assert tasks.new_shows_message([], 3) is None
    one = tasks.new_shows_message(["Samurai Gun"], 3)
    assert one == "“Samurai Gun” is new to the model and was not used yet: these come from your other shows"
    two = tasks.new_shows_message(["Samurai Gun", "Aquarion Logos"], 3)
    assert two is not None and two.startswith("“Samurai Gun” and “Aquarion Logos” are new to the model")
    everything = tasks.new_shows_message(["Samurai Gun"], 1)
    assert everything is not None and everything.startswith("“Samurai Gun” is not known to the model yet")
    assert "most popular" in everything
