"""What a spectator sees of the live race: the page moves by itself (the simulated race `shipml up` prepares),
and searching a bib finds that runner. The expected answers come from the API."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import expect

if TYPE_CHECKING:
    from tests.e2e.conftest import Product, StreamlitPage

pytestmark = pytest.mark.e2e

BOARD = ".st-key-race_board"
EDITION_LEFT_S = 240  # what the rest of a test needs of an edition, with room for a slow machine


def wait_for_standings(product: Product, ui: StreamlitPage) -> None:
    ui.page.wait_for_function("() => true")
    for _ in range(120):
        try:
            if product.get("/api/race/demo/leaderboard", limit=1)["ranked"] > 0:
                return
        except httpx.HTTPStatusError:
            pass
        ui.page.wait_for_timeout(1000)
    pytest.fail("the simulated race never got standings")


def leader_with_a_split(product: Product, ui: StreamlitPage) -> dict:
    """The leader's line once the leader has passed the first checkpoint, in an edition with minutes left: the gun
    of a fresh product's race fires after the page can show it, the leader needs about a minute of wall time to
    reach 2.5 km at the demo's speed-up (run alone, this test came before it), and a leader found near the end of an
    edition is a runner at the start of the next one by the time the page follows them (seen on a slow machine)."""
    for _ in range(480):
        try:
            edition = product.get("/api/race/demo/stats")["edition"]
            if edition["ends_in_s"] > EDITION_LEFT_S:
                leader = product.get("/api/race/demo/leaderboard", limit=1)["rows"][0]
                detail = product.get(f"/api/race/demo/runners/{leader['bib']}", track="false")
                if any(split["time_s"] is not None for split in detail["splits"]):
                    return leader
        except httpx.HTTPStatusError as exc:  # between two editions: no standings yet (404), as in wait_for_standings
            if exc.response.status_code != 404:
                raise
        ui.page.wait_for_timeout(1000)
    pytest.fail("the simulated race's leader never passed a checkpoint with minutes of the edition left")


def test_the_live_page_moves_by_itself_and_finds_a_bib(ui: StreamlitPage, product: Product) -> None:
    ui.open("/race")
    wait_for_standings(product, ui)
    expect(ui.page.get_by_text("SIMULATED race", exact=True)).to_be_visible()
    expect(ui.page.locator(BOARD)).to_be_visible()
    ui.wait_for_charts(".st-key-race_progress", timeout=60)
    board = ui.page.locator(BOARD)
    first = board.inner_text()
    ui.screenshot("race_live_1.png")
    for _ in range(60):  # nobody touches anything: the live fragment redraws every 2 s with the newest standings
        ui.page.wait_for_timeout(1000)
        if board.inner_text() != first:
            break
    ui.screenshot("race_live_2.png")
    assert board.inner_text() != first, "the leaderboard did not change by itself within a minute"

    leader = leader_with_a_split(product, ui)
    box = ui.page.locator(".st-key-race_search input")
    box.fill(leader["bib"])
    box.press("Enter")
    found = ui.page.locator(".st-key-race_found")
    expect(found).to_be_visible()
    expect(found.locator("[role='gridcell']", has_text=leader["name"]).first).to_be_attached()
    ui.screenshot("race_search.png")

    # follow the leader: their splits, one column per checkpoint named as the course names it, times as h:mm:ss
    option = f"{leader['bib']} · {leader['name']}"
    follow = ui.page.locator(".st-key-race_follow_pick input")
    follow.click()
    follow.fill(leader["bib"])
    ui.page.get_by_role("option", name=option, exact=True).click()
    ui.page.keyboard.press("Escape")
    splits = ui.page.locator(".st-key-race_splits")
    expect(splits).to_be_visible()
    for checkpoint in ("2.5 km", "Finish"):
        expect(splits.locator("[role='columnheader']", has_text=checkpoint).first).to_be_attached()
    expect(splits.locator("[role='gridcell']", has_text=re.compile(r"^0:\d\d:\d\d$")).first).to_be_attached()
    ui.screenshot("race_followed.png")
    ui.assert_no_exception()


def test_the_home_card_says_the_race_is_live(ui: StreamlitPage, product: Product) -> None:
    ui.open("/race")
    wait_for_standings(product, ui)
    ui.open("/")
    card = ui.page.locator(".st-key-app_race")
    expect(card).to_be_visible(timeout=60_000)
    expect(card.get_by_text("SIMULATED (demo)").first).to_be_visible()
    # an edition runs 12 min, its runners all in 2 min before the close, the next gun 20 s later: any of these states
    expect(card.get_by_text(re.compile(r"SIMULATED\): (under way|over|the gun fires in \d+ s|waiting for the first "
                                       r"runners)"))).to_be_visible()
    expect(card.get_by_text("Running", exact=True)).to_be_visible()
    assert "no data yet" not in card.inner_text()
    ui.screenshot("home_race_card.png")
    ui.assert_no_exception()
