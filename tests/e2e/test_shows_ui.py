"""What a TV fan sees in a real browser: type three shows they like (one with a typo), submit, get cards with
reasons and rate one; titles nobody knows get "no show recognised" with
clickable suggestions where some title is close; a sixth show cannot be added; "Start over" clears an old error;
live suggestions never offer an unrelated show; a liked show the model does not know yet is named.

The product is prepared with the real shared anime ratings (``SHIPML_SHOWS_SOURCE`` in the harness), so the
tests type real titles; the expected answers come from the API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import polars as pl
import pytest
from playwright.sync_api import expect

from shipml.apps.shows import data, ratings
from shipml.core import matching

if TYPE_CHECKING:
    from tests.e2e.conftest import Product, StreamlitPage

pytestmark = [pytest.mark.e2e, pytest.mark.services]  # also on PostgreSQL + Redis

API = "/api/shows"
CARDS = ".st-key-shows_results [class*='st-key-shows_card_']"
NOT_FOUND = ["Death", "qqqqq zzzz"]  # a prefix alone does not resolve (but has close titles); gibberish has none
SUGGESTIONS = ".st-key-shows_suggestions"


def label(show: dict[str, Any]) -> re.Pattern[str]:
    """A suggestion button's name: the title, with the year when the catalog knows it."""
    return re.compile(f"^{re.escape(show['title'])}( \\(\\d{{4}}\\))?$")


def type_query(ui: StreamlitPage, text: str) -> None:
    ui.page.locator(".st-key-shows_query input").fill(text)
    ui.wait_idle()


def add_typed(ui: StreamlitPage, text: str) -> None:
    """Type a title and add it exactly as typed."""
    type_query(ui, text)
    ui.page.get_by_role("button", name=f'Add "{text}" as typed').click()
    ui.wait_idle()


def add_suggested(ui: StreamlitPage, product: Product, typed: str, title: str) -> None:
    """Type part of a title and click the live suggestion for ``title``."""
    hits = product.get(f"{API}/search", q=typed, limit=5)
    show = next(h for h in hits if h["title"] == title)
    type_query(ui, typed)
    ui.page.locator(".st-key-shows_suggestions").get_by_role("button", name=label(show)).click()
    ui.wait_idle()


def slot(ui: StreamlitPage, index: int) -> Any:
    return ui.page.locator(f".st-key-shows_chosen_{index}")


def test_recommendations_with_reasons_from_three_liked_shows(ui: StreamlitPage, product: Product) -> None:
    shows = product.get("/api/health")["apps"]["shows"]
    assert not shows["data"]["synthetic"], "the harness prepares the real shared anime ratings"
    assert product.get(f"{API}/search", q="Deth Note", limit=1)[0]["title"] == "Death Note"

    ui.open("/shows")
    main = ui.page.locator("[data-testid='stMain']")
    expect(main).not_to_contain_text("SYNTHETIC")
    expect(main.get_by_text("ratings, updated")).to_contain_text(f"v{shows['data']['version']}")
    expect(main.get_by_text("ratings, updated")).to_contain_text(f"v{shows['model']['champion']}")
    add_typed(ui, "Deth Note")
    expect(slot(ui, 0)).to_contain_text("→ Death Note")  # the typo is forgiven, and the picker says so
    add_suggested(ui, product, "fullmetal", "Fullmetal Alchemist: Brotherhood")
    add_suggested(ui, product, "Naruto", "Naruto")
    expect(slot(ui, 2)).to_contain_text("✓")
    expect(main).to_contain_text("Your shows (3 of 5)")

    ui.page.locator(".st-key-shows_submit").get_by_role("button", name="Recommend").click()
    expect(ui.page.locator(CARDS).first).to_be_visible(timeout=60_000)
    ui.wait_idle()  # a prediction ready within the submit's wait comes with it; the view of a longer one: test_page
    expect(main.get_by_text(re.compile(r"^Ready in \d+\.\d s: 20 shows from model v\d+$"))).to_be_visible()
    expect(ui.page.locator(".st-key-shows_recognised")).to_contain_text(
        "Deth Note → Death Note · Fullmetal Alchemist: Brotherhood · Naruto")

    cards = ui.page.locator(CARDS)
    expect(cards).to_have_count(20)
    reasons = ui.page.locator(".shows-reason").all_inner_texts()
    assert len(reasons) == 20 and all(r.startswith(("because you liked", "popular with everyone"))
                                       for r in reasons)
    assert any("Death Note" in r for r in reasons), reasons
    titles = ui.page.locator(f"{CARDS} .shows-title").all_inner_texts()
    assert len(titles) == 20 and not {"Death Note", "Naruto", "Fullmetal Alchemist: Brotherhood"} & set(titles)

    first = cards.first
    title = first.locator(".shows-title").inner_text().strip()
    like = first.locator("[class*='st-key-shows_like_']").get_by_role("button")
    like.click()  # 👍
    expect(ui.page.locator("[data-testid='stToast']")).to_contain_text(f"Saved that you like {title}")
    expect(like).to_have_attribute("kind", "primary")  # the answer stays marked on the card
    expect(first.locator("[class*='st-key-shows_dislike_']").get_by_role("button")).to_have_attribute(
        "kind", "secondary")
    ui.wait_idle()
    ui.screenshot("shows.png")


def test_unknown_titles_get_suggestions_and_a_sixth_show_is_refused(ui: StreamlitPage, product: Product) -> None:
    answer = httpx.post(f"{product.api_url}{API}/recommendations", json={"shows": NOT_FOUND}, timeout=30)
    assert answer.status_code == 404, answer.text
    error = answer.json()["error"]
    suggestions = error["details"]["suggestions"]
    assert "Death Note" in [s["title"] for s in suggestions["Death"]] and suggestions["qqqqq zzzz"] == []

    ui.open("/shows")
    for index, text in enumerate(NOT_FOUND):
        add_typed(ui, text)
        expect(slot(ui, index)).to_contain_text("not in the catalog")  # and so it would be left out
    ui.page.locator(".st-key-shows_submit").get_by_role("button", name="Recommend").click()
    ui.wait_idle()
    problem = ui.page.locator(".st-key-shows_not_found")
    expect(problem).to_contain_text(error["message"], ignore_case=True)  # "no show recognised among …"
    for text in NOT_FOUND:
        expect(problem).to_contain_text(f"Instead of {text}")
        for show in suggestions[text]:
            expect(problem.get_by_role("button", name=label(show))).to_be_visible()
    expect(problem).to_contain_text("no close title")  # for the gibberish: nothing unrelated is offered
    expect(ui.page.locator(CARDS)).to_have_count(0)
    ui.screenshot("shows_not_found.png")

    pick = suggestions[NOT_FOUND[0]][0]
    problem.get_by_role("button", name=label(pick)).first.click()  # the suggestion replaces the gibberish
    ui.wait_idle()
    expect(slot(ui, 0)).to_contain_text(pick["title"])
    expect(problem).to_have_count(0)

    for typed, title in (("Naruto", "Naruto"), ("Cowboy Bebop", "Cowboy Bebop"), ("Steins;Gate", "Steins;Gate")):
        add_suggested(ui, product, typed, title)
    box = ui.page.locator(".st-key-shows_query input")
    expect(ui.page.locator("[data-testid='stMain']")).to_contain_text("Your shows (5 of 5)")
    expect(box).to_be_disabled()  # a sixth cannot be typed
    expect(ui.page.locator(".st-key-shows_picker [data-testid='stAlert']")).to_contain_text(
        "5 shows is the most")
    ui.page.locator(".st-key-shows_remove_1").get_by_role("button").click()  # remove "qqqqq zzzz": room for one more
    ui.wait_idle()
    expect(box).to_be_enabled()
    expect(ui.page.locator("[data-testid='stMain']")).to_contain_text("Your shows (4 of 5)")


def suggestion_buttons(ui: StreamlitPage) -> Any:
    """The live suggestions' buttons (not "Add … as typed")."""
    return ui.page.locator(f"{SUGGESTIONS} [class*='st-key-shows_hit_'] button")


def test_start_over_clears_the_old_error_and_a_real_title_typed_gives_real_recommendations(
        ui: StreamlitPage, product: Product) -> None:
    ui.open("/shows")
    add_typed(ui, "xqzjvw")
    ui.page.locator(".st-key-shows_submit").get_by_role("button", name="Recommend").click()
    ui.wait_idle()
    problem = ui.page.locator(".st-key-shows_not_found")
    expect(problem).to_contain_text("No show recognised among 'xqzjvw'")

    ui.page.locator(".st-key-shows_clear").get_by_role("button", name="Start over").click()
    ui.wait_idle()
    expect(problem).to_have_count(0)  # it used to stay on screen while a new list was built
    expect(ui.page.locator("[data-testid='stMain']")).to_contain_text("Your shows (0 of 5)")

    type_query(ui, "Death Note")  # the real title, typed as a user does
    expect(problem).to_have_count(0)
    first = suggestion_buttons(ui).first
    expect(first.locator("p")).to_have_text("Death Note (2006)")  # the page's own label; it is highlighted
    expect(first).to_have_attribute("kind", "primary")
    first.click()
    ui.wait_idle()
    expect(slot(ui, 0)).to_contain_text("✓ 2006")
    ui.page.locator(".st-key-shows_submit").get_by_role("button", name="Recommend").click()
    expect(ui.page.locator(CARDS).first).to_be_visible(timeout=60_000)
    ui.wait_idle()
    expect(ui.page.locator(CARDS)).to_have_count(20)
    expect(ui.page.locator(".st-key-shows_recognised")).to_contain_text("Recognised: Death Note")
    reasons = ui.page.locator(".shows-reason").all_inner_texts()
    assert sum(r == "because you liked Death Note" for r in reasons) >= 5, reasons
    for title in ui.page.locator(f"{CARDS} .shows-title").all_inner_texts():  # real shows of the real catalog
        hit = product.get(f"{API}/search", q=title, limit=1)[0]
        assert hit["title"] == title and hit["verified"], title
    ui.screenshot("shows_start_over_then_real_title.png")

    # the label the page shows is understood by the API as that show
    death_note = product.get(f"{API}/search", q="Death Note", limit=1)[0]
    answer = httpx.post(f"{product.api_url}{API}/recommendations", json={"shows": ["Death Note (2006)"]},
                        timeout=30)
    assert answer.status_code == 202, answer.text
    assert [(r["id"], r["title"]) for r in answer.json()["recognised"]] == [(death_note["id"], "Death Note")]


def test_live_suggestions_never_offer_an_unrelated_show(ui: StreamlitPage) -> None:
    ui.open("/shows")
    for absent in ("Dragon Throne", "xqzjvw"):  # no show in the real catalog is close to these
        type_query(ui, absent)
        expect(suggestion_buttons(ui)).to_have_count(0)
        expect(ui.page.locator(SUGGESTIONS)).to_contain_text(f'Add "{absent}" as typed')
        expect(ui.page.locator("[data-testid='stMain']")).to_contain_text(f"No close match for “{absent}”")
        if absent == "Dragon Throne":
            ui.screenshot("shows_no_close_match.png")
    for typed in ("fullmetal", "Cowboy Bebp", "death"):
        type_query(ui, typed)
        names = suggestion_buttons(ui).locator("p").all_inner_texts()
        assert names, typed
        for name in names:
            title = re.sub(r" \(\d{4}\)$", "", name.strip())
            assert matching.search(typed, [title]), (typed, names)  # contains it, or a near spelling of it
        expect(suggestion_buttons(ui).first).to_have_attribute("kind", "primary")


def never_liked(shows_dir: Path) -> list[str]:
    """Titles of the shared data's rated TV shows that nobody liked (so the model cannot know them)."""
    shows, rated = data.read_anime(shows_dir / "anime_caserec")
    liked = rated.filter(pl.col("rating") >= ratings.LIKED_AT)["external_id"].unique()
    titles = shows.filter(~pl.col("external_id").is_in(liked.implode()))["title"].sort().to_list()
    return [t for t in titles if re.fullmatch(r"[A-Za-z ]{6,30}", t)]


def test_a_liked_show_new_to_the_model_is_named(ui: StreamlitPage, product: Product, covid_source: Path) -> None:
    unknown = None
    for title in never_liked(covid_source.parent.parent / "shows"):
        hit = product.get(f"{API}/search", q=title, limit=1)[0]
        if hit["title"] == title and product.get(f"{API}/{hit['id']}/similar")["similar"] == []:
            unknown = title
            break
    assert unknown is not None, "the shared data has shows nobody liked"

    ui.open("/shows")
    add_suggested(ui, product, "Naruto", "Naruto")
    add_suggested(ui, product, unknown, unknown)
    ui.page.locator(".st-key-shows_submit").get_by_role("button", name="Recommend").click()
    expect(ui.page.locator(CARDS).first).to_be_visible(timeout=60_000)
    ui.wait_idle()
    expect(ui.page.locator(".st-key-shows_message")).to_contain_text(
        f"“{unknown}” is new to the model and was not used yet")
    ui.screenshot("shows_new_to_the_model.png")
