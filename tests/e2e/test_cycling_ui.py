"""What a cycling fan sees in a real browser: pick a rider, find the similar ones (table and map), click a
rider on the map to follow them, similar races; a low-confidence rider is flagged, and filters that leave
nobody say so instead of showing an empty table.

The product is prepared with the real shared cycling data (``SHIPML_CYCLING_SOURCE`` in the harness), so the
main test picks a well-known rider; the expected answers always come from the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import expect

from shipml.apps.cycling.charts import country, race_label, rider_label

if TYPE_CHECKING:
    from tests.e2e.conftest import Product, StreamlitPage

pytestmark = pytest.mark.e2e

API = "/api/cycling"
RESULTS = ".st-key-cycling_results [data-testid='stDataFrame']"
MAP = ".st-key-cycling_map"


def similar(product: Product, **body: Any) -> dict[str, Any]:
    response = httpx.post(f"{product.api_url}{API}/similar", json=body, timeout=30)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def pick(ui: StreamlitPage, key: str, typed: str, option: str) -> None:
    """Type into the select box (or multiselect) ``key`` and choose ``option``."""
    box = ui.page.locator(f".st-key-{key} input")
    box.click()
    box.fill(typed)
    ui.page.get_by_role("option", name=option, exact=True).click()
    ui.page.keyboard.press("Escape")
    ui.wait_idle()


def set_slider(ui: StreamlitPage, key: str, value: int, thumb: int = 0) -> None:
    """Move a slider's thumb to ``value`` with the keyboard, as a user can."""
    handle = ui.page.locator(f".st-key-{key} input[type='range']").nth(thumb)
    current = int(handle.input_value())
    handle.focus()
    for _ in range(abs(value - current)):
        ui.page.keyboard.press("ArrowRight" if value > current else "ArrowLeft")
    expect(handle).to_have_value(str(value))
    ui.wait_idle()


def find(ui: StreamlitPage) -> None:
    ui.page.locator(".st-key-cycling_find").get_by_role("button", name="Find 'em").click()
    ui.wait_idle()


def table_names(ui: StreamlitPage) -> list[str]:
    """The ``name`` column of the results table (the grid's accessible cells, 8 per row)."""
    cells = ui.page.locator(f"{RESULTS} [role='gridcell']")
    expect(cells.first).to_be_attached()  # the grid draws after the rest of the page
    return cells.all_inner_texts()[1::8]


def map_dots(ui: StreamlitPage, group: str) -> int:
    return ui.page.locator(f"{MAP} g.mark-symbol path[aria-label*='group: {group};']").count()


def test_find_similar_riders_table_map_and_races(ui: StreamlitPage, product: Product) -> None:
    update = product.get(API + "/last-update")
    assert not update["synthetic"], "the harness prepares the real shared cycling data"
    top = product.get(API + "/riders", q="pogačar")["riders"][0]
    assert top["rider"] == "tadej-pogacar"
    n = 7
    expected = similar(product, rider=top["rider"], n=n, age_min=22, age_max=40)["neighbours"]
    assert len(expected) == n and all(22 <= e["age"] <= 40 for e in expected)

    ui.open("/cycling")
    main = ui.page.locator("[data-testid='stMain']")
    if update["synthetic"]:
        expect(main).to_contain_text("SYNTHETIC data (offline demo)")
    else:
        expect(main).not_to_contain_text("SYNTHETIC")
    expect(ui.page.get_by_text("data version")).to_contain_text(f"v{update['version']}")
    pick(ui, "cycling_rider", top["name"], rider_label(top))
    set_slider(ui, "cycling_n", n)
    set_slider(ui, "cycling_ages", 22, thumb=0)
    set_slider(ui, "cycling_ages", 40, thumb=1)
    find(ui)

    expect(ui.page.locator(".st-key-cycling_rider_card")).to_contain_text(top["name"])
    expect(ui.page.locator(RESULTS)).to_be_visible()
    expect(ui.page.locator(f"{RESULTS} [aria-rowcount]").first).to_have_attribute("aria-rowcount", str(n + 1))
    assert table_names(ui) == [e["name"] for e in expected]
    ui.wait_for_charts(MAP)
    assert map_dots(ui, "similar") == n and map_dots(ui, "chosen rider") == 1
    ui.screenshot("cycling.png")

    set_slider(ui, "cycling_n", 3)  # another widget changes: the last answer stays until "Find 'em"
    assert table_names(ui) == [e["name"] for e in expected]

    follow = expected[0]  # click a similar rider on the map: they become the picked rider
    ui.page.locator(f"{MAP} g.mark-symbol path[aria-label*='rider: {follow['name']};']").first.click(force=True)
    expect(main.get_by_role("heading", name=f"Riders like {follow['name']}")).to_be_visible()
    ui.wait_idle()
    again = similar(product, rider=follow["rider"], n=3, age_min=22, age_max=40)["neighbours"]
    assert table_names(ui) == [e["name"] for e in again]

    races = product.get(API + "/races")
    race = races[len(races) // 2]
    answer = product.get(API + f"/races/{race}/similar", n=10)
    ui.page.get_by_role("tab", name="Similar races").click()
    pick(ui, "cycling_race", race_label(race), race_label(race))
    expect(main.get_by_role("heading", name=f"Races like {race_label(race)}")).to_be_visible()
    ui.wait_for_charts(".st-key-cycling_races_result")
    bars = ui.page.locator(".st-key-cycling_races_result g.mark-rect path").all()
    drawn = {(b.get_attribute("aria-label") or "").split("name: ")[-1].split(";")[0] for b in bars}
    assert drawn == {race_label(s["race"]) for s in answer["similar"]} and drawn
    ui.screenshot("cycling_races.png")


def test_low_confidence_rider_is_flagged(ui: StreamlitPage, product: Product) -> None:
    riders = product.get(API + "/riders", limit=1000)["riders"]
    weak = next((r for r in riders if r["low_confidence"]), None)
    assert weak is not None, "the prepared data should hold riders with little evidence"
    reasons = similar(product, rider=weak["rider"], n=5)["rider"]["confidence"]["reasons"]

    ui.open("/cycling")
    pick(ui, "cycling_rider", weak["name"], rider_label(weak))
    find(ui)
    card = ui.page.locator(".st-key-cycling_rider_card")
    expect(card).to_contain_text("LOW CONFIDENCE")
    for reason in reasons:
        expect(card).to_contain_text(reason)
    expect(ui.page.locator(f"{RESULTS} [aria-rowcount]").first).to_have_attribute("aria-rowcount", "11")
    ui.screenshot("cycling_low_confidence.png")


def test_filters_that_leave_nobody_say_so(ui: StreamlitPage, product: Product) -> None:
    riders = product.get(API + "/riders", limit=1000)["riders"]
    top, others = riders[0], riders[1:]
    youngest: dict[str, int] = {}
    for r in others:
        if r["nationality"] and r["age"] is not None:
            youngest[r["nationality"]] = min(youngest.get(r["nationality"], 99), r["age"])
    nation = next(c for c, age in sorted(youngest.items()) if age > 18)  # nobody of them is 18 or younger
    answer = similar(product, rider=top["rider"], n=10, age_max=18, countries=[nation])
    assert answer["neighbours"] == [] and answer["message"]

    ui.open("/cycling")
    pick(ui, "cycling_rider", top["name"], rider_label(top))
    pick(ui, "cycling_countries", country(nation).split(" (")[0], country(nation))
    ages = ui.page.locator(".st-key-cycling_ages input[type='range']")
    low = int(ages.nth(0).input_value())
    assert low <= 18
    set_slider(ui, "cycling_ages", 18, thumb=1)  # the age range: up to 18
    find(ui)

    expect(ui.page.locator("[data-testid='stAlert']", has_text=answer["message"])).to_be_visible()
    expect(ui.page.locator(RESULTS)).to_have_count(0)  # the message, not an empty table
    expect(ui.page.locator(".st-key-cycling_rider_card")).to_contain_text(top["name"])
    ui.wait_for_charts(MAP)
    assert map_dots(ui, "similar") == 0 and map_dots(ui, "chosen rider") == 1
    ui.screenshot("cycling_no_match.png")
